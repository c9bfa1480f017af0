"""Headless Chromium through Selenium, for tests that look at pages as a reader's browser lays them out."""
import shutil
import tempfile
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


@contextmanager
def chromium(width: int = 360, height: int = 740):
    """A browser emulating a phone `width` CSS pixels wide (it honours the page's viewport meta tag)."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# What overflows: the page's own width beyond the viewport, and every element sticking out of it that is not
# inside a box that scrolls by itself (a wide table scrolls inside its .scroll box, which is fine).
LAYOUT = """
const width = window.innerWidth;
const scrolls = el => { for (let e = el.parentElement; e; e = e.parentElement) {
    const style = getComputedStyle(e); if (style.overflowX === 'auto' || style.overflowX === 'scroll') return true; }
  return false; };
const wide = [];
for (const el of document.body.querySelectorAll('*')) {
  const box = el.getBoundingClientRect();
  if (box.width && (box.right > width + 0.5 || box.left < -0.5) && !scrolls(el) && !el.closest('svg'))
    wide.push(el.tagName + ' ' + (el.textContent || '').slice(0, 60) + ' ' + Math.round(box.right));
}
const figures = [...document.querySelectorAll('figure svg')].map(svg => {
  const box = svg.getBoundingClientRect();
  return [box.left, box.right, box.width, box.height, getComputedStyle(svg).visibility]; });
return {width: width, scrollWidth: document.documentElement.scrollWidth, wide: wide, figures: figures};
"""


def layout(driver, url: str) -> dict:
    driver.get(url)
    return driver.execute_script(LAYOUT)
