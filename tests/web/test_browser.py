"""The student's and the instructor's journeys in headless Chromium, against a real server with real
sandboxes: sign in with a link, download the release, upload, watch the result appear, run out of attempts;
another student cannot open the result; the instructor grants an extension and regrades."""
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from served import A1, sample

pytestmark = pytest.mark.slow  # the service in a server process, driven by Chromium

STUDENT = "lin"   # A1's policy (served.TEST_CONFIG): 2 attempts, due 2099-01-01, everything shown before it
ADA_S_SCORE = "7 of 7 points so far; 2 more points to be graded by your instructor"  # her written answer waits


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory, downloads):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(
        executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()


def wait(driver, seconds=60):
    return WebDriverWait(driver, seconds, poll_frequency=0.1)


def sign_in(driver, link):
    driver.delete_all_cookies()
    driver.get(link)


def submit(driver, path: Path):
    driver.find_element(By.ID, "notebook").send_keys(str(path))
    driver.find_element(By.ID, "submit").click()


@pytest.fixture(scope="module")
def journey(server, browser, downloads, tmp_path_factory):
    """The student's journey, up to using their last attempt; returns what the tests look at."""
    driver = browser
    sign_in(driver, server.link(STUDENT))
    assert driver.find_element(By.TAG_NAME, "h1").text == "My assignments"
    driver.find_element(By.LINK_TEXT, A1).click()
    driver.find_element(By.ID, "release").click()
    released = downloads / "gradient_descent.ipynb"
    wait(driver, 20).until(lambda _: released.is_file() and released.stat().st_size > 0)
    downloaded = released.read_bytes()

    slow = nbformat.reads(sample("katherine_johnson", A1).read_text(), 4)  # 3 of 9 points, and slow to grade
    slow.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(1.5)"))
    first = tmp_path_factory.mktemp("work") / "gradient_descent.ipynb"
    nbformat.write(slow, str(first))
    submit(driver, first)
    wait(driver, 20).until(lambda _: "/attempts/" in driver.current_url)  # the click returns before the next page
    pending = bool(driver.find_elements(By.ID, "pending"))
    first_url = driver.current_url
    score = wait(driver).until(ready.presence_of_element_located((By.ID, "score"))).text
    messages = [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#result ul.messages li")]

    driver.find_element(By.LINK_TEXT, f"Back to {A1}").click()
    submit(driver, sample("ada_lovelace", A1))
    second_score = wait(driver).until(ready.presence_of_element_located((By.ID, "score"))).text
    figures = len(driver.find_elements(By.CSS_SELECTOR, "#result figure svg"))  # the path gradient_descent took
    driver.find_element(By.LINK_TEXT, f"Back to {A1}").click()
    return {"downloaded": downloaded, "pending": pending, "first_url": first_url, "score": score,
            "url_after": driver.current_url, "figures": figures, "messages": messages,
            "second_score": second_score, "assignment_page": driver.find_element(By.TAG_NAME, "main").text,
            "upload_forms": len(driver.find_elements(By.ID, "upload"))}


def test_the_student_downloads_the_release_notebook(server, journey):
    import json

    downloaded = json.loads(journey["downloaded"])
    submit_key = downloaded["metadata"].pop("autograder")  # where it goes, and the student's key (api.py)
    assert submit_key == {"service": server.url, "assignment": A1, "key": submit_key["key"]}
    assert server.service.store.submit_key(submit_key["key"]).student == STUDENT
    assert downloaded == json.loads(server.course.release_notebook(A1).read_bytes())


def test_the_result_page_appears_by_itself_with_messages_and_figures(journey):
    assert journey["pending"]  # the page first said "being graded", then showed the result without a click
    assert journey["score"] == "3 of 9 points"
    assert "gradient_descent is not written yet: replace raise NotImplementedError() with your code." \
        in journey["messages"]  # the code set as code
    assert journey["figures"] >= 1


def test_the_last_attempt_used_the_student_is_told_and_cannot_upload(journey):
    assert journey["second_score"] == ADA_S_SCORE
    assert "You have used all 2 attempts for this assignment." in journey["assignment_page"]
    assert f"Your score, from attempt 2: {ADA_S_SCORE}." in journey["assignment_page"]
    assert journey["upload_forms"] == 0


def test_another_student_cannot_open_the_result(server, browser, journey):
    sign_in(browser, server.link("grace"))
    browser.get(journey["first_url"])
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "3 of 9" not in browser.page_source and "katherine" not in browser.page_source


def test_the_instructor_grants_an_extension_and_regrades(server, browser, journey):
    sign_in(browser, server.link("teacher", "instructor"))
    browser.find_element(By.LINK_TEXT, STUDENT).click()
    section = browser.find_element(By.ID, f"assignment-{A1}")
    hours = section.find_element(By.NAME, "hours")
    hours.clear()
    hours.send_keys("48")
    section.find_element(By.CSS_SELECTOR, "form.extension button").click()
    wait(browser, 20).until(ready.staleness_of(section))  # the page the form posted to has replaced this one
    section = browser.find_element(By.ID, f"assignment-{A1}")
    assert "2099-01-03 00:00 UTC" in section.text
    assert server.service.store.extension(STUDENT, A1).total_seconds() == 48 * 3600

    before = {attempt.id: attempt.finished_at for attempt in server.service.store.attempts(STUDENT, A1)}
    section.find_element(By.CSS_SELECTOR, "button.regrade-student").click()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = server.service.store.attempts(STUDENT, A1)
        if all(attempt.done and attempt.finished_at > before[attempt.id] for attempt in after):
            break
        time.sleep(0.2)
    assert [(a.number, a.score, a.counts) for a in after] == [(1, 3.0, False), (2, 7.0, True)]
    assert all(a.finished_at > before[a.id] for a in after)
    browser.refresh()
    assert f"counting: attempt 2, {ADA_S_SCORE}" in browser.find_element(By.ID, f"assignment-{A1}").text
