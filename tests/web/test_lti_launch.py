"""LTI 1.3 launches into `autograder serve` from a real platform on loopback (tests/lms/lti_platform.py:
lti1p3platform's OIDC login and id_token, AGS and NRPS): a student's launch in headless Chromium, their upload,
and the score arriving at the platform; forged, replayed and foreign tokens refused; key rotation; roles;
Deep Linking."""
import re
import shutil
from html import unescape
import sys
import time
from pathlib import Path
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import jwt
import pytest
import requests
from nbgrader.api import Gradebook
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from served import A1, TEST_CONFIG, ThreadServer, make_course, sample

sys.path.insert(0, str(Path(__file__).parent.parent / "lms"))  # the platform lives with the other LMS tests
from lti_platform import INSTRUCTOR, LEARNER, LtiPlatform, pem_pair  # noqa: E402

from autograder.lms.settings import create_key_pair, public_jwk  # noqa: E402
from autograder.results.scores import score  # noqa: E402
from autograder.web.lti import PUBLISHED, publication  # noqa: E402
from autograder.web.store import utcnow  # noqa: E402

pytestmark = pytest.mark.slow  # the service in a server process, driven by Chromium


@pytest.fixture(scope="module")
def lti(tmp_path_factory):
    """A platform and the service registered with each other; the gradebook knows ada by email only."""
    folder = tmp_path_factory.mktemp("lti-launch")
    key_path = folder / "tool.pem"
    platform = LtiPlatform(public_jwk(create_key_pair(key_path))).start()
    lineitem = platform.add_lineitem(A1, 9, resource_link="rl-1")
    platform.add_member("u-ada", "Ada Lovelace", email="ada@uni.edu")
    settings = {"issuer": platform.issuer, "client_id": platform.client_id, "deployment_id": platform.deployment_id,
                "token_url": platform.token_url, "private_key": str(key_path), "auth_url": platform.auth_url,
                "platform_jwks_url": platform.jwks_url, "retry_delay": 0.01, "timeout": 5, "contexts": ["context-1"]}
    config = TEST_CONFIG + "".join(f"\nc.LTI.{name} = {value!r}" for name, value in settings.items()) + "\n"
    course = make_course(folder / "course", config)
    from autograder.course.config import load_course

    with Gradebook(load_course(course).db_url) as gradebook:
        gradebook.update_or_create_student("ada", email="ada@uni.edu", first_name="Ada", last_name="Lovelace")
    server = ThreadServer(course)
    server.app.extensions["autograder_lti"]["publisher"].interval = 0.2
    platform.register_tool(server.url + "/lti/login", server.url + "/lti/launch")
    yield server, platform, lineitem
    if not server.closed:  # the restart test closes it
        server.close()
    platform.stop()


def chromium(profile: Path, third_party_cookies: bool):
    """Headless Chromium; `third_party_cookies=False` blocks them, as Chrome's setting "Block third-party cookies"."""
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"profile.block_third_party_cookies": not third_party_cookies,
                                              "profile.cookie_controls_mode": 0 if third_party_cookies else 1})
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(
        executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A browser that blocks third-party cookies (as Safari, Firefox and Chrome's newer defaults do)."""
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"), third_party_cookies=False)
    yield driver
    driver.quit()


def launch_form(platform, client: requests.Session, **launch) -> tuple[str, dict]:
    """Drive a launch over HTTP up to the platform's form: (the tool's launch URL, {id_token, state})."""
    login = platform.launch_url(**launch)
    auth = client.get(login + "&" + urlencode({"lti1p3_new_window": "1"}), allow_redirects=False)
    assert auth.status_code == 302, auth.text
    page = client.get(auth.headers["Location"])
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'name="(id_token|state)" value="([^"]+)"', page.text))
    return re.search(r'action="([^"]+)"', page.text).group(1), fields


def lms_user_ids(server) -> dict:
    with Gradebook(server.service.db_url) as gradebook:
        return {s.id: s.lms_user_id for s in gradebook.students}


def refusal(html: str) -> str:
    found = re.search(r'id="message"[^>]*>(.*?)</p>', html, re.S)
    return re.sub(r"\s+", " ", found.group(1)).strip().replace("&#39;", "'") if found else ""


def test_a_student_launches_in_the_browser_uploads_and_the_score_arrives_at_the_platform(lti, browser):
    server, platform, lineitem = lti
    browser.get(platform.launch_url("u-ada", email="ada@uni.edu", name="Ada Lovelace", title="Week 1: " + A1))
    WebDriverWait(browser, 30, 0.1).until(lambda d: d.current_url.endswith(f"/assignments/{A1}"))
    assert browser.find_element(By.CLASS_NAME, "who").text == "ada"
    with Gradebook(server.service.db_url) as gradebook:
        assert gradebook.find_student("ada").lms_user_id == "u-ada"   # recorded from the launch
    from autograder.lms.links import served_link
    from autograder.lms.settings import load_settings

    link = served_link(server.service.store.engine, load_settings(server.course.root), A1)
    assert (link["context"].name, link["resource_link"], link["lineitem"], link["lineitems"], link["memberships"]) == (
        "NN101 (Neural nets)", "rl-1", lineitem, platform.lineitems_url, platform.memberships_url)  # roster, publish
    browser.find_element(By.ID, "notebook").send_keys(str(sample("katherine_johnson", A1)))
    browser.find_element(By.ID, "submit").click()
    deadline = time.monotonic() + 90
    while (lineitem, "u-ada") not in platform.scores and time.monotonic() < deadline:
        time.sleep(0.2)
    score = platform.scores[(lineitem, "u-ada")]
    with Gradebook(server.service.db_url) as gradebook:
        graded = gradebook.find_submission(A1, "ada").score
    assert (score["scoreGiven"], score["scoreMaximum"], score["gradingProgress"]) == (graded, 9, "FullyGraded")
    from autograder.web.lti import publication

    assert publication(server.service.store.engine, "ada", A1)["state"] == "published"


def test_the_instructor_sees_in_the_browser_that_the_score_is_in_the_lms(lti, browser):
    server, platform, lineitem = lti
    browser.delete_all_cookies()
    browser.get(server.link("teacher", "instructor"))
    browser.get(f"{server.url}/instructor/students/ada")
    held = platform.scores[(lineitem, "u-ada")]["scoreGiven"]
    read_back = publication(server.service.store.engine, "ada", A1)["next_try_at"]
    assert browser.find_element(By.ID, f"lms-{A1}").text == (
        f"In the LMS: the LMS holds {score(held)} of 9 points ({lineitem}). Read back {read_back:%Y-%m-%d %H:%M} UTC.")


def page_text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(p|table)>', html, re.S)
    text = re.sub(r"<[^>]+>", "", re.sub(r"</t[dh]>", " ", found.group(1))) if found else ""
    return re.sub(r"\s+", " ", unescape(text)).strip()


def publish_again_until(server, state: str) -> dict:
    """Forget ada's publication, so that the service's publisher sends her score again; its outcome."""
    engine = server.service.store.engine
    with engine.begin() as connection:
        connection.execute(PUBLISHED.delete())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = publication(engine, "ada", A1)
        if found and found["state"] == state:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not {state}: {publication(engine, 'ada', A1)}")


def set_lms_user_id(server, student, user_id):
    with Gradebook(server.service.db_url) as gradebook:
        gradebook.update_or_create_student(student, lms_user_id=user_id)


def written_answer_waits_for_a_hand_grade(server, student: str, waits):
    """Mark the written answer of the student's A1 as waiting for a hand grade (True), or restore what `waits` is
    (the grade's earlier state, as this returns it)."""
    with Gradebook(server.service.db_url) as gradebook:
        submission = gradebook.find_submission(A1, student)
        grade = next(g for nb in submission.notebooks for g in nb.grades if g.name == "learning_rate_too_large")
        earlier = (grade.needs_manual_grade, grade.auto_score, grade.manual_score)
        grade.needs_manual_grade, grade.auto_score, grade.manual_score = (True, None, None) if waits is True else waits
        gradebook.db.commit()
    return earlier


def test_the_instructor_pages_say_why_a_score_is_not_in_the_lms(lti):
    server, platform, lineitem = lti
    instructor = server.session("teacher", "instructor")
    attempt = next(a for a in server.service.store.attempts("ada", A1) if a.counts).number
    set_lms_user_id(server, "ada", "u-gone")       # not a member of the course on the LMS
    try:
        refused = publish_again_until(server, "refused")
    finally:
        set_lms_user_id(server, "ada", "u-ada")
    page = instructor.get(f"{server.url}/instructor/students/ada").text
    assert page_text(page, f"lms-{A1}") == (
        f"Refused: the score of attempt {attempt} is not in the LMS: LMS user id 'u-gone' is not an active member of "
        "the course on the LMS; nothing was posted. Record the right ids with `autograder lti roster`. Once that is "
        f"fixed it is sent again at {refused['next_try_at']:%Y-%m-%d %H:%M} UTC, or at once with autograder lti "
        f"publish {A1}.")
    config = server.course.root / "course_config.py"
    before = config.read_text()
    config.write_text(before + '\nc.LTI.pending_manual = "PendingManual"\n')
    platform.moodle_like = True                      # Moodle keeps no score sent as PendingManual
    graded = written_answer_waits_for_a_hand_grade(server, "ada", True)
    try:
        dropped = publish_again_until(server, "dropped")
    finally:
        written_answer_waits_for_a_hand_grade(server, "ada", graded)
        config.write_text(before)
        platform.moodle_like = False
    report = page_text(instructor.get(f"{server.url}/instructor/report/{A1}").text, "lms")
    sent = platform.accepted[-1][1]
    assert report == (
        f"student in the LMS ada Dropped by the LMS: the LMS accepted the score of attempt {attempt} but keeps another "
        f"({dropped['message']}). Moodle keeps no score sent as PendingManual: set c.LTI.pending_manual = "
        f'"FullyGraded" to send the points so far. It is sent again at {dropped["next_try_at"]:%Y-%m-%d %H:%M} UTC.')
    assert dropped["message"].endswith("as PendingManual; the LMS holds no score for u-ada")
    assert (sent["gradingProgress"], sent["scoreGiven"]) == ("PendingManual", None)  # as Moodle keeps it
    assert publish_again_until(server, "published")["tries"] == 1


def test_a_replayed_launch_is_refused(lti):
    server, platform, _ = lti
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-ada", email="ada@uni.edu", title=A1)
    first = client.post(url, data=form, allow_redirects=False)
    assert first.status_code == 303 and first.headers["Location"].endswith(f"/assignments/{A1}")
    again = client.post(url, data=form, allow_redirects=False)
    assert again.status_code == 403
    assert "used already (a replayed launch)" in refusal(again.text)


def test_a_forged_id_token_is_refused(lti):
    server, platform, _ = lti
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-ada", email="ada@uni.edu", title=A1)
    claims = jwt.decode(form["id_token"], options={"verify_signature": False})
    header = jwt.get_unverified_header(form["id_token"])
    forged = jwt.encode(claims | {"sub": "u-someone"}, pem_pair()[0], algorithm="RS256", headers={"kid": header["kid"]})
    answer = client.post(url, data={**form, "id_token": forged}, allow_redirects=False)
    assert answer.status_code == 403
    assert "Can't decode id_token: Signature verification failed" in refusal(answer.text)


def test_a_token_for_another_deployment_is_refused(lti):
    server, platform, _ = lti
    platform.config.registration_params["deployment_id"] = "deployment-2"
    platform.config._registration = None
    try:
        client = requests.Session()
        url, form = launch_form(platform, client, user="u-ada", email="ada@uni.edu", title=A1)
        answer = client.post(url, data=form, allow_redirects=False)
    finally:
        platform.config.registration_params["deployment_id"] = platform.deployment_id
        platform.config._registration = None
    assert answer.status_code == 403 and "Unable to find deployment" in refusal(answer.text)


def test_a_rotated_platform_key_is_fetched_anew(lti):
    server, platform, _ = lti
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-ada", email="ada@uni.edu", title=A1)
    assert client.post(url, data=form, allow_redirects=False).status_code == 303
    fetched = platform.jwks_requests
    platform.rotate_key()
    url, form = launch_form(platform, client, user="u-ada", email="ada@uni.edu", title=A1)
    assert client.post(url, data=form, allow_redirects=False).status_code == 303
    assert platform.jwks_requests == fetched + 1


def test_someone_not_on_the_class_list_is_told_so(lti):
    server, platform, _ = lti
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-stranger", email="who@else.edu", title=A1)
    answer = client.post(url, data=form, allow_redirects=False)
    assert answer.status_code == 403
    assert refusal(answer.text).startswith("You are not on this course's class list in the grader yet")


def test_an_instructor_goes_to_the_class_and_adds_an_assignment_by_deep_linking(lti, browser):
    server, platform, _ = lti
    platform.add_member("u-bea", "Bea Bell", email="bea@uni.edu")
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-teach", role=INSTRUCTOR, title=A1,
                            email="teach@uni.edu")
    answer = client.post(url, data=form, allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/instructor/")
    deadline = time.monotonic() + 20   # the instructor's launch refreshed the roster from the LMS (NRPS)
    while time.monotonic() < deadline and lms_user_ids(server).get("bea") != "u-bea":
        time.sleep(0.2)
    assert lms_user_ids(server)["bea"] == "u-bea"
    browser.delete_all_cookies()
    browser.get(platform.launch_url("u-teach", role=INSTRUCTOR, deep_link=True, email="teach@uni.edu"))
    WebDriverWait(browser, 30, 0.1).until(lambda d: d.find_elements(By.ID, "pick"))
    browser.find_element(By.CSS_SELECTOR, "input[value='03-backpropagation']").click()
    browser.find_element(By.ID, "add").click()
    WebDriverWait(browser, 30, 0.1).until(lambda d: d.find_elements(By.ID, "done"))
    items = platform.deep_link_responses[-1]["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert [item["custom"] for item in items] == [{"assignment": "03-backpropagation"}]
    assert items[0]["url"] == server.url + "/lti/launch" and items[0]["lineItem"]["scoreMaximum"] > 0


def test_a_learner_cannot_deep_link(lti):
    server, platform, _ = lti
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-ada", role=LEARNER, deep_link=True)
    answer = client.post(url, data=form, allow_redirects=False)
    assert answer.status_code == 403 and "Only an instructor" in refusal(answer.text)


def test_the_tools_keyset_is_served(lti):
    server, _, _ = lti
    keys = requests.get(server.url + "/lti/jwks.json").json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]


def test_without_the_tools_key_a_launch_gets_a_page_and_no_keyset_is_served(lti):
    server, platform, _ = lti
    from autograder.lms.settings import load_settings

    key = load_settings(server.course.root).private_key_path
    key.rename(key.with_suffix(".away"))
    try:
        login = requests.get(platform.launch_url("u-ada", email="ada@uni.edu", title=A1))
        keyset = requests.get(server.url + "/lti/jwks.json")
    finally:
        key.with_suffix(".away").rename(key)
    assert login.status_code == 503
    assert refusal(login.text) == ("This course's grader is not set up correctly for launches from the LMS. Please "
                                   "tell your instructor; nothing of yours was changed.")
    assert keyset.status_code == 404


def test_an_expired_login_is_refused(lti, monkeypatch):
    import autograder.web.lti as tool

    server, platform, _ = lti
    monkeypatch.setattr(tool, "STATE_LIFETIME", 1)
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-ada", email="ada@uni.edu", title=A1)
    time.sleep(1.5)
    answer = client.post(url, data=form, allow_redirects=False)
    assert answer.status_code == 403 and "unknown, expired or used already" in refusal(answer.text)


def link_records(server) -> tuple:
    """Every link record, and the URLs and approval of every context that has any: what a launch from another course
    must not change (it is only noted, for `autograder lti contexts`)."""
    from sqlalchemy import select

    from autograder.lms.links import CONTEXTS, RESOURCE_LINKS

    with server.service.store.engine.connect() as connection:
        return (sorted(tuple(row) for row in connection.execute(select(RESOURCE_LINKS))),
                sorted(tuple(row) for row in connection.execute(
                    select(CONTEXTS.c.id, CONTEXTS.c.lineitems, CONTEXTS.c.memberships, CONTEXTS.c.approved_at)
                    .where(CONTEXTS.c.lineitems.isnot(None) | CONTEXTS.c.memberships.isnot(None)
                           | CONTEXTS.c.approved_at.isnot(None)))))


def context_row(server, context_id: str) -> int:
    from sqlalchemy import select

    from autograder.lms.links import CONTEXTS

    with server.service.store.engine.connect() as connection:
        return connection.execute(select(CONTEXTS.c.id).where(CONTEXTS.c.context_id == context_id)).scalar_one()


@pytest.mark.slow
@pytest.mark.parametrize("who", [dict(user="u-mallory", role=INSTRUCTOR, email="mallory@uni.edu"),
                                 dict(user="u-ada", role=LEARNER, email="ada@uni.edu")], ids=["teacher", "student"])
def test_a_launch_from_another_lms_course_on_the_same_registration_is_refused_and_changes_nothing(lti, who):
    server, platform, _ = lti
    before, published = link_records(server), dict(platform.scores)
    client = requests.Session()
    url, form = launch_form(platform, client, **who, title=A1, link="rl-2", context=2)
    answer = client.post(url, data=form, allow_redirects=False)
    assert answer.status_code == 403
    assert refusal(answer.text) == ("You opened this from NN102 (Another course), but this grader is the grader of "
                                    "NN101 (Neural nets) only. Nothing opened here, and nothing was changed.")
    approve = page_text(answer.text, "approve")
    assert f"autograder lti contexts approve {context_row(server, 'context-2')} (or adds its context id context-2" \
        in approve
    assert not [name for name in server.course.assignments if name in answer.text]   # nothing of this course
    assert link_records(server) == before and platform.scores == published
    for page in ("/instructor/", "/assignments", f"/assignments/{A1}"):
        assert client.get(server.url + page, allow_redirects=False).status_code != 200   # nobody signed in


@pytest.mark.slow
def test_an_approved_lms_course_is_served(lti):
    from autograder.lms.links import set_approved

    server, platform, _ = lti
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-ada", email="ada@uni.edu", title=A1, link="rl-2", context=2)
    assert client.post(url, data=form, allow_redirects=False).status_code == 403
    engine = server.service.store.engine
    set_approved(engine, context_row(server, "context-2"), utcnow())   # as `autograder lti contexts approve ID`
    try:
        url, form = launch_form(platform, client, user="u-ada", email="ada@uni.edu", title=A1, link="rl-2", context=2)
        answer = client.post(url, data=form, allow_redirects=False)
        assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/assignments/{A1}")
        records, _ = link_records(server)
        assert (context_row(server, "context-2"), "rl-2", A1) in [row[:3] for row in records]
    finally:
        set_approved(engine, context_row(server, "context-2"), None)


@pytest.mark.slow
def test_a_login_for_another_issuer_or_client_id_gets_the_refusal_page(lti, caplog):
    server, platform, _ = lti
    caplog.set_level("WARNING")
    for other in ({"iss": "https://other.lms"}, {"client_id": "someone-else"}):
        query = {"iss": platform.issuer, "login_hint": "u-ada", "target_link_uri": server.url + "/lti/launch",
                 "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id} | other
        answer = requests.get(server.url + "/lti/login?" + urlencode(query), allow_redirects=False)
        assert answer.status_code == 400
        assert refusal(answer.text).startswith("This grader is registered with another LMS (or under another tool "
                                               "registration) than the one this launch came from")
    assert [r.levelname for r in caplog.records if r.name == "autograder.web.lti"] == ["WARNING", "WARNING"]
    assert not [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]


@pytest.mark.slow
def test_a_launch_for_another_issuer_or_client_id_gets_the_refusal_page(lti, caplog):
    server, platform, _ = lti
    caplog.set_level("WARNING")
    signing_key = platform.config.registration_params["private_pem"]
    for other in ({"iss": "https://other.lms"}, {"aud": "someone-else"}, {"aud": ["someone-else", "x"]}):
        client = requests.Session()
        url, form = launch_form(platform, client, user="u-ada", email="ada@uni.edu", title=A1)
        claims = jwt.decode(form["id_token"], options={"verify_signature": False}) | other
        header = jwt.get_unverified_header(form["id_token"])
        token = jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": header["kid"]})
        answer = client.post(url, data={**form, "id_token": token}, allow_redirects=False)
        assert answer.status_code == 403, answer.text
        assert refusal(answer.text).startswith("This grader is registered with another LMS")
    assert len([r for r in caplog.records if r.name == "autograder.web.lti" and r.levelname == "WARNING"]) == 3
    assert not [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]


@pytest.fixture
def framed_tool(lti):
    """The service as deployed inside an LMS's iframe (`serve --https --lms-iframe`: behind an HTTPS proxy, cookies
    SameSite=None; Secure), on the same course, registered with the platform instead of the module's server."""
    server, platform, _ = lti
    framed = ThreadServer(server.course.root, url_scheme="https", lms_iframe=True, grading=False)
    framed.app.config["SESSION_COOKIE_SECURE"] = True
    framed.app.extensions["autograder_lti"]["publisher"].stop_event.set()  # the module's server publishes
    platform.register_tool(framed.url + "/lti/login", framed.url + "/lti/launch")
    yield framed, platform
    platform.register_tool(server.url + "/lti/login", server.url + "/lti/launch")
    framed.close()


def test_blocked_third_party_cookies_offer_a_new_window_where_the_launch_completes(framed_tool, browser):
    framed, platform = framed_tool
    browser.delete_all_cookies()
    browser.get(platform.activity_url(user="u-ada", email="ada@uni.edu", title=A1))
    browser.switch_to.frame("tool")
    link = WebDriverWait(browser, 20, 0.1).until(
        lambda d: [e for e in d.find_elements(By.ID, "lti1p3-new-tab-link") if e.is_displayed()])[0]
    warning = browser.find_element(By.ID, "lti1p3-warning-msg").text
    assert warning == ("Your browser does not let the grader remember you inside the LMS's page (it blocks "
                       "third-party cookies), so the assignment cannot open here. Open the assignment in a new window")
    lms_page = browser.current_window_handle
    link.click()
    WebDriverWait(browser, 10, 0.1).until(lambda d: len(d.window_handles) == 2)
    browser.switch_to.window(next(handle for handle in browser.window_handles if handle != lms_page))
    try:
        WebDriverWait(browser, 30, 0.1).until(lambda d: d.current_url == f"{framed.url}/assignments/{A1}")
        assert browser.find_element(By.CLASS_NAME, "who").text == "ada"
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith(A1)
    finally:
        browser.close()
        browser.switch_to.window(lms_page)


def opens_signed_in_inside_the_frame(driver, tool_url: str):
    """The LMS page's tool frame reaches ada's assignment page of the tool at `tool_url`, signed in, no new window."""
    driver.switch_to.frame("tool")
    WebDriverWait(driver, 30, 0.1).until(
        lambda d: d.execute_script("return location.href") == f"{tool_url}/assignments/{A1}")
    assert driver.find_element(By.CLASS_NAME, "who").text == "ada"
    assert len(driver.window_handles) == 1


def test_with_third_party_cookies_allowed_the_launch_completes_inside_the_lms_page(framed_tool, tmp_path):
    framed, platform = framed_tool
    driver = chromium(tmp_path / "profile", third_party_cookies=True)
    try:
        driver.get(platform.activity_url(user="u-ada", email="ada@uni.edu", title=A1))
        opens_signed_in_inside_the_frame(driver, framed.url)
    finally:
        driver.quit()


@pytest.mark.slow
def test_over_plain_http_the_cookie_check_passes_where_the_browser_keeps_the_cookie(lti, browser):
    """A service over HTTP (no SameSite=None; Secure possible) inside an LMS page of its own site: the cookie check
    sets what the browser accepts there, and the launch completes inside the frame, no new window."""
    server, platform, _ = lti
    browser.delete_all_cookies()
    browser.get(platform.activity_url(host="127.0.0.1", user="u-ada", email="ada@uni.edu", title=A1))
    opens_signed_in_inside_the_frame(browser, server.url)
    browser.switch_to.default_content()


@pytest.fixture
def framed_http_tool(lti):
    """The service inside an LMS's iframe over plain HTTP (`serve --lms-iframe` without HTTPS, on a loopback address:
    the browser keeps SameSite=None cookies there), registered with the platform instead of the module's server."""
    server, platform, _ = lti
    framed = ThreadServer(server.course.root, lms_iframe=True, grading=False)
    framed.app.extensions["autograder_lti"]["publisher"].stop_event.set()  # the module's server publishes
    platform.register_tool(framed.url + "/lti/login", framed.url + "/lti/launch")
    yield framed, platform
    platform.register_tool(server.url + "/lti/login", server.url + "/lti/launch")
    framed.close()


@pytest.mark.slow
def test_over_plain_http_in_another_sites_frame_the_launch_completes_where_cookies_are_allowed(framed_http_tool,
                                                                                               tmp_path):
    framed, platform = framed_http_tool
    driver = chromium(tmp_path / "profile", third_party_cookies=True)
    try:
        driver.get(platform.activity_url(user="u-ada", email="ada@uni.edu", title=A1))   # the LMS at localhost
        opens_signed_in_inside_the_frame(driver, framed.url)
    finally:
        driver.quit()


def test_a_score_the_lms_refused_is_published_after_a_restart(lti):
    """Last in this file: it restarts the service. The backoff and the pending score live in the database."""
    from served import upload, wait_done

    from autograder.web.lti import publication

    server, platform, lineitem = lti
    platform.fail["u-ada"] = 10_000          # the LMS answers 503 to every post of ada's score
    platform.scores.pop((lineitem, "u-ada"), None)
    if not any(attempt.counts for attempt in server.service.store.attempts("ada", A1, status="done")):
        client = requests.Session()
        url, form = launch_form(platform, client, user="u-ada", email="ada@uni.edu", title=A1)
        page = client.post(url, data=form)
        client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        answer = upload(client, server.url, A1, sample("ada_lovelace", A1).read_bytes())
        wait_done(client, server.url, urlsplit(answer.url).path, timeout=90)
    with server.service.store.engine.begin() as connection:   # as if never published
        connection.execute(PUBLISHED.delete())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (publication(server.service.store.engine, "ada", A1) or {}).get(
            "message", "").find("503") < 0:
        time.sleep(0.2)
    failed = publication(server.service.store.engine, "ada", A1)
    assert failed["state"] == "retry" and "HTTP 503" in failed["message"]
    shown = page_text(server.session("teacher", "instructor").get(f"{server.url}/instructor/students/ada").text,
                      f"lms-{A1}")
    assert shown.startswith("Waiting to retry: the score of attempt ") and "did not reach the LMS (HTTP 503" in shown
    assert shown.endswith(f"It is sent again at {failed['next_try_at']:%Y-%m-%d %H:%M} UTC (1 try so far).")
    server.close()                                       # the service stops with the score not on the LMS
    platform.fail["u-ada"] = 0
    restarted = ThreadServer(server.course.root)
    try:
        publisher = restarted.app.extensions["autograder_lti"]["publisher"]
        assert publisher.publish_due() == 0              # its next try is not due yet: the backoff was kept
        with restarted.service.store.engine.begin() as connection:
            connection.execute(PUBLISHED.update().values(next_try_at=failed["next_try_at"] - timedelta(hours=1)))
        assert publisher.publish_due() == 1
        assert platform.scores[(lineitem, "u-ada")]["userId"] == "u-ada"
        assert publication(restarted.service.store.engine, "ada", A1)["state"] == "published"
    finally:
        restarted.close()
