"""The whole sample class submitted through a real service (real sandboxes), once for the module; then:
- every submission's result page (policy "full") and its offline feedback page carry the same facts, each once;
- under the course's default policy (worked example, no due date) a page says only what is true for it;
- every student and instructor page, the feedback pages and the class report fit 360 px and read at 1280 px in
  headless Chromium (nothing wider than the window, nothing sticking out of its box or overlapping a sibling), with
  no serious or critical axe-core violation (the page of a new submit key too); screenshots of each are saved."""
import html as markup
import os
import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from autograder.present.feedback import render_feedback
from autograder.web.grading import stored_result
from served import SAMPLES, ThreadServer, make_course, upload, wait_done

pytestmark = pytest.mark.slow

A1, A3 = "01-gradient-descent", "03-backpropagation"
# The course's default policy for A1 (worked example, no due date); everything shown for the others.
CONFIG = """
c.Autograder.cell_timeout = 3
c.Autograder.submission_timeout = 30
c.Autograder.policies = {"default": {"attempts": 5, "before_due": "full"},
                         "01-gradient-descent": {"before_due": "worked example", "after_due": "full"}}
"""
AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js"   # axe-core 4.14.1, MPL-2.0
WIDTHS = (360, 1280)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Every sample submission uploaded by its student and graded by the service: (server, {(student,
    assignment): (attempt path, attempt)})."""
    server = ThreadServer(make_course(tmp_path_factory.mktemp("one-view") / "course", CONFIG), workers=2)
    uploaded = {}
    try:
        for folder in sorted(SAMPLES.iterdir()):
            client = server.session(folder.name)
            for assignment in server.course.assignments:
                notebook = next((folder / assignment).glob("*.ipynb"), None)
                if notebook is not None:
                    response = upload(client, server.url, assignment, notebook.read_bytes())
                    assert response.status_code == 200, response.text[-2000:]
                    uploaded[folder.name, assignment] = (client, re.search(r"/attempts/\d+$", response.url).group(0))
        attempts = {}
        for key, (client, path) in uploaded.items():
            wait_done(client, server.url, path, timeout=600)
            attempts[key] = (path, server.service.store.attempt(int(path.rsplit("/", 1)[1])))
        yield server, attempts
    finally:
        server.close()


BLOCK = re.compile(r"</?(?:p|li|ul|tr|td|th|table|h\d|div|br|section|figure|figcaption|caption|header|nav|main)"
                   r"\b[^>]*>")


def visible_text(page: str) -> str:
    """The page's text as a reader sees it: blocks apart, inline markup (code) run into its sentence."""
    page = re.sub(r"<(svg|style|script|head)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", markup.unescape(re.sub(r"<[^>]+>", "", BLOCK.sub(" ", page)))).strip()


def clean(fragment: str) -> str:
    return re.sub(r"\s+", " ", markup.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


def facts(page: str) -> dict:
    """What a result page tells: the score, each exercise's points and status, each message and hint."""
    result = page[page.index('class="score"'):]
    return {"score": clean(re.search(r'class="score"[^>]*>(.*?)</p>', page, re.S).group(1)),
            "exercises": [clean(row) for row in re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", result, re.S)],
            "messages": [clean(text) for text in re.findall(r'<span class="text">(.*?)</span>', result, re.S)],
            "hints": [clean(text) for text in re.findall(r'<span class="hint">(.*?)</span>', result, re.S)],
            "figures": re.findall(r"<figcaption>(.*?)</figcaption>", result, re.S)}


def assert_each_once(page: str, told: dict) -> None:
    text = visible_text(page)
    for fact in told["messages"] + told["hints"]:
        assert text.count(fact) == 1, (fact, text.count(fact))


def test_every_result_page_and_its_feedback_page_carry_the_same_facts_each_once(graded_class):
    server, attempts = graded_class
    teacher = server.session("teacher", "instructor")
    students = {}
    for (student, assignment), (path, attempt) in attempts.items():
        if assignment == A1:  # its policy shows less to students: the instructor's view is the full one
            page = teacher.get(f"{server.url}/instructor{path}").text
        else:
            page = students.setdefault(student, server.session(student)).get(server.url + path).text
        offline = render_feedback(stored_result(server.course, attempt))
        served, written = facts(page), facts(offline)
        assert served == written, (student, assignment)
        assert served["exercises"] and (served["messages"] or "Every exercise works" in page)
        assert_each_once(page, served)
        assert_each_once(offline, written)


def test_under_the_default_policy_the_check_cell_speaks_once_with_its_hint_and_no_untrue_sentence(graded_class):
    server, attempts = graded_class
    path, _ = attempts["claude_shannon", A1]
    page = server.session("claude_shannon").get(server.url + path).text
    told = facts(page)
    text = visible_text(page)
    assert text.count("df(5) returned 2, but 4 was expected.") == 1
    assert "Did you drop the factor 2 of the power rule, or flip the sign?" in " ".join(told["hints"])
    assert "-9.278" not in text and "after the due date" not in text and "on an input it had not seen" not in text
    assert ("The messages of the hidden checks on inputs your notebook has not seen are not shown for this "
            "assignment") in text
    assistant = server.session("claude_shannon").get(f"{server.url}/assignments/{A1}").text
    assert "Due: no due date" in visible_text(assistant)


# Layout: the document no wider than the window, no element sticking out of its parent's box (unless the parent
# scrolls it and it fits there) and no two in-flow siblings overlapping. Figures' own drawing is not walked.
LAYOUT = """
const width = window.innerWidth, problems = [];
const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
  (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') +
  ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
const shown = el => { const s = getComputedStyle(el); return s.display !== 'none' && s.visibility !== 'hidden'
  && s.position !== 'absolute' && s.position !== 'fixed'; };
const clipped = el => { for (let e = el; e; e = e.parentElement) { const s = getComputedStyle(e);  // read aloud only
  if (s.position === 'absolute' && s.overflow === 'hidden' && e.getBoundingClientRect().width <= 1) return true; }
  return false; };
const inline = el => getComputedStyle(el).display === 'inline';  // its line boxes are checked by its block's
if (document.documentElement.scrollWidth > width) problems.push('page ' + document.documentElement.scrollWidth
  + ' px wide in a ' + width + ' px window');
for (const el of document.body.querySelectorAll('*')) {
  if (el.closest('svg') || !shown(el) || clipped(el)) continue;
  const style = getComputedStyle(el);
  if ((style.overflowX === 'auto' || style.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1)
    problems.push(name(el) + ' scrolls sideways: ' + el.scrollWidth + ' px in ' + el.clientWidth);
  const box = el.getBoundingClientRect(), parent = el.parentElement.getBoundingClientRect();
  const limit = inline(el) ? {left: 0, right: width} : parent;
  if (box.width && (box.right > limit.right + 1 || box.left < limit.left - 1))
    problems.push(name(el) + ' sticks out of ' + name(el.parentElement) + ': ' + Math.round(box.left) + '-'
                  + Math.round(box.right) + ' in ' + Math.round(parent.left) + '-' + Math.round(parent.right));
  const siblings = [...el.children].filter(child => shown(child) && !inline(child) && !child.closest('svg'));
  if (siblings.length > 60) continue;
  for (let i = 0; i < siblings.length; i++) for (let j = i + 1; j < siblings.length; j++) {
    const a = siblings[i].getBoundingClientRect(), b = siblings[j].getBoundingClientRect();
    const across = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const down = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (across > 1 && down > 1 && a.width && b.width)
      problems.push(name(siblings[i]) + ' overlaps ' + name(siblings[j]));
  }
}
for (const svg of document.querySelectorAll('figure svg')) {
  const viewBox = svg.viewBox.baseVal, box = svg.getBoundingClientRect();
  if (viewBox && viewBox.width && box.width / viewBox.width < 0.6)  // its 11 pt text drawn under 9 px
    problems.push('a figure drawn at ' + Math.round(100 * box.width / viewBox.width) + '% of its size');
}
return problems;
"""

AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
  results => done(results.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                  .map(v => v.id + ': ' + v.help + ' (' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join('; ')
                       + ')')),
  error => done(['axe failed: ' + error]));
"""

HEADINGS = """
const levels = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => +h.tagName[1]);
const wrong = levels.filter((level, i) => i === 0 ? level !== 1 : level > levels[i - 1] + 1);
const tables = [...document.querySelectorAll('table')].filter(t => !t.querySelector('th[scope]'));
return {levels: levels, skips: wrong, tables_without_headers: tables.length};
"""


def screenshot(driver, folder: Path, name: str) -> None:
    import base64

    height = min(driver.execute_script("return document.documentElement.scrollHeight"), 6000)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "clip": {
        "x": 0, "y": 0, "width": driver.execute_script("return window.innerWidth"), "height": height, "scale": 1}})
    (folder / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def check_page(driver, url: str, name: str, folder: Path) -> list[str]:
    """Every problem of the page at `url`, at both widths; a screenshot of each."""
    axe = AXE.read_text(encoding="utf-8")
    problems = []
    for width in WIDTHS:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600})
        driver.get(url)
        problems += [f"{name} at {width} px: {problem}" for problem in driver.execute_script(LAYOUT)]
        outline = driver.execute_script(HEADINGS)
        if outline["skips"] or outline["tables_without_headers"]:
            problems.append(f"{name}: headings {outline['levels']}, "
                            f"{outline['tables_without_headers']} table(s) without header cells")
        driver.execute_script(axe)
        problems += [f"{name} at {width} px: {violation}" for violation in driver.execute_async_script(AXE_RUN)]
        screenshot(driver, folder, f"{name}-{width}")
    return problems


@pytest.fixture(scope="module")
def browser():
    from headless_chromium import chromium

    with chromium(360) as driver:
        driver.set_script_timeout(60)
        yield driver


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    folder = Path(os.environ.get("AUTOGRADER_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_every_student_and_instructor_page_fits_360_and_1280_pixels_without_serious_accessibility_faults(
        graded_class, browser, screenshots):
    server, attempts = graded_class
    student = "claude_shannon"
    pages = {"signin": f"{server.url}/signin/not-a-token"}
    browser.delete_all_cookies()
    problems = check_page(browser, pages["signin"], "signin", screenshots)
    browser.get(server.link(student))
    assert browser.find_element(By.TAG_NAME, "h1").text == "My assignments"
    student_pages = {"assignments": "/assignments", "assignment": f"/assignments/{A1}",
                     "attempt-worked-example": attempts[student, A1][0], "attempt-full": attempts[student, A3][0],
                     "not-found": "/attempts/999999"}
    for name, path in student_pages.items():
        problems += check_page(browser, server.url + path, name, screenshots)
    browser.delete_all_cookies()
    browser.get(server.link("teacher", "instructor"))
    instructor_pages = {"overview": "/instructor/", "student": f"/instructor/students/{student}",
                        "report": "/instructor/report/02-slopes-and-updates",
                        "instructor-attempt": f"/instructor{attempts['barbara_liskov', A3][0]}"}
    for name, path in instructor_pages.items():
        problems += check_page(browser, server.url + path, name, screenshots)
    assert not problems, "\n".join(problems)


def test_the_page_of_a_new_submit_key_fits_360_and_1280_pixels_without_serious_accessibility_faults(
        graded_class, browser, screenshots):
    """The answer of "Get a submit key" (a POST's: check_page cannot fetch it again), reached by pressing it."""
    server, _ = graded_class
    browser.delete_all_cookies()
    browser.get(server.link("ada_lovelace"))
    problems = []
    for width in WIDTHS:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600})
        browser.get(f"{server.url}/assignments/{A1}")
        browser.find_element(By.ID, "get-key-button").click()
        shown = WebDriverWait(browser, 20).until(ready.presence_of_element_located((By.ID, "submit-key")))
        assert shown.get_attribute("value").startswith("ag1.")
        problems += [f"key at {width} px: {problem}" for problem in browser.execute_script(LAYOUT)]
        browser.execute_script(AXE.read_text(encoding="utf-8"))
        problems += [f"key at {width} px: {violation}" for violation in browser.execute_async_script(AXE_RUN)]
        screenshot(browser, screenshots, f"submit-key-{width}")
    assert not problems, "\n".join(problems)


def test_the_feedback_pages_and_the_class_report_fit_360_and_1280_pixels(graded_class, browser, screenshots,
                                                                          tmp_path):
    from autograder.present.report import build, render_report

    server, attempts = graded_class
    problems = []
    for student in ("claude_shannon", "barbara_liskov"):
        page = tmp_path / f"feedback-{student}.html"
        page.write_text(render_feedback(stored_result(server.course, attempts[student, A3][1])))
        problems += check_page(browser, page.as_uri(), page.stem, screenshots)
    report = build(server.course, server.course.root / "autograded", A3)
    page = tmp_path / "report.html"
    page.write_text(render_report(report, tmp_path / "feedback", tmp_path))
    problems += check_page(browser, page.as_uri(), "class-report", screenshots)
    assert not problems, "\n".join(problems)
