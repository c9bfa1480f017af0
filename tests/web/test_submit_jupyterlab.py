"""The JupyterLab Submit button (the prebuilt extension in autograder/labextensions), in a real JupyterLab driven
by headless Chromium, against a real service on loopback: open the downloaded release with a solution in it,
click Submit, read the graded result in the notebook's panel; a notebook without a key asks for one, refuses what
is not a key and keeps the one from "Get a submit key"."""
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from course_files import ROOT
from headless_chromium import chromium
from served import A1, sample

pytestmark = pytest.mark.slow
EXTENSIONS = ROOT / "autograder" / "labextensions"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on loopback in a folder of its own, with the package's extension and no token: (its URL, the
    folder)."""
    tmp_path = tmp_path_factory.mktemp("lab")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={tmp_path}",
         f"--LabApp.extra_labextensions_path={EXTENSIONS}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(tmp_path)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/status", timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.3)
    else:
        process.kill()
        raise AssertionError("JupyterLab did not start")
    yield url, tmp_path
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_the_submit_button_shows_the_graded_result_in_the_notebook(server, lab):
    from nbgrader.api import Gradebook

    lab, tmp_path = lab
    student = "lab_grace"
    client = server.session(student)
    downloaded = client.get(f"{server.url}/assignments/{A1}/release").json()
    worked = json.loads(sample("ada_lovelace", A1).read_text())  # the solution, filled in
    worked["metadata"]["autograder"] = downloaded["metadata"]["autograder"]
    (tmp_path / "gradient_descent.ipynb").write_text(json.dumps(worked))

    with chromium(1400, 900) as browser:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        browser.set_window_size(1400, 900)
        browser.get(f"{lab}/lab/tree/gradient_descent.ipynb?reset")
        button = WebDriverWait(browser, 90).until(ready.element_to_be_clickable(
            (By.CSS_SELECTOR, ".autograder-submit")))  # a jp-button: JupyterLab 4's toolkit
        clicked = time.monotonic()
        button.click()
        headline = WebDriverWait(browser, 60).until(ready.visibility_of_element_located(
            (By.CSS_SELECTOR, ".autograder-result .autograder-headline")))
        seconds = time.monotonic() - clicked
        headline = headline.text
        policy = browser.find_element(By.CSS_SELECTOR, ".autograder-result .autograder-policy").text
        page = browser.find_element(By.CSS_SELECTOR, ".autograder-result a.autograder-page").get_attribute("href")
    print(f"Submit clicked -> graded result shown: {seconds:.2f} s")

    attempts = server.service.store.attempts(student, A1)
    assert len(attempts) == 1 and attempts[0].counts
    answer = client.get(f"{server.url}/api/attempts/{attempts[0].id}",
                        headers={"Authorization": f"Bearer {downloaded['metadata']['autograder']['key']}"}).json()
    assert headline == f"Attempt 1: {answer['result']['headline']}."
    assert policy == f"{A1}: 2 of 2 attempts left; due 2099-01-01 00:00 UTC; the best attempt counts; a result " \
                     "shows every message."
    assert page == f"{server.url}/attempts/{attempts[0].id}"
    assert seconds < 15  # on an idle 2-core machine the issue asks for 2 s; this one is shared with other work
    gradebook = Gradebook(server.service.db_url)
    try:
        assert [s.student_id for s in gradebook.find_assignment(A1).submissions].count(student) == 1
    finally:
        gradebook.close()


def test_a_notebook_without_a_key_asks_for_one_once_checks_it_and_keeps_it(server, lab):
    from autograder.checking.visible_check import _pasted_key

    lab, folder = lab
    student = "lab_lise"
    client = server.session(student)
    posted = client.post(f"{server.url}/assignments/{A1}/key", data={"csrf_token": client.csrf})
    shown = re.search(r'id="submit-key" type="text" readonly size="60" value="([^"]+)"', posted.text).group(1)
    worked = json.loads(sample("ada_lovelace", A1).read_text())
    worked["metadata"]["autograder"] = {"service": server.url, "assignment": A1}  # as an attempt's notebook: no key
    path = folder / "keyless.ipynb"
    path.write_text(json.dumps(worked))

    def paste(text):
        browser.find_element(By.CSS_SELECTOR, ".autograder-submit").click()
        field = WebDriverWait(browser, 30).until(ready.visibility_of_element_located(
            (By.CSS_SELECTOR, ".jp-Dialog input.autograder-key")))
        page = browser.find_element(By.CSS_SELECTOR, ".jp-Dialog a.autograder-key-page").get_attribute("href")
        field.send_keys(text)
        browser.find_element(By.CSS_SELECTOR, ".jp-Dialog .jp-mod-accept").click()
        return page

    with chromium(1400, 900) as browser:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        browser.set_window_size(1400, 900)
        browser.get(f"{lab}/lab/tree/keyless.ipynb?reset")  # this notebook alone, not the workspace of the last test
        WebDriverWait(browser, 90).until(ready.element_to_be_clickable((By.CSS_SELECTOR, ".autograder-submit")))
        assert paste("my password") == f"{server.url}/assignments/{A1}"
        refusal = WebDriverWait(browser, 30).until(ready.visibility_of_element_located(
            (By.CSS_SELECTOR, ".autograder-result .autograder-error"))).text
        assert refusal == ("That is not a submit key. On the assignment's page, press \"Get a submit key\" and copy "
                           "the whole key (it starts with ag1.). Nothing was sent.")
        assert "key" not in json.loads(path.read_text())["metadata"]["autograder"]
        paste(shown)
        WebDriverWait(browser, 60).until(ready.visibility_of_element_located(
            (By.CSS_SELECTOR, ".autograder-result .autograder-headline")))
        kept = browser.find_element(By.CSS_SELECTOR, ".autograder-result .autograder-kept").text
    assert kept == "Your key is now kept in this notebook's metadata: you will not be asked again."
    assert json.loads(path.read_text())["metadata"]["autograder"] == {"service": server.url, "assignment": A1,
                                                                      "key": _pasted_key(shown)[1]}
    assert len(server.service.store.attempts(student, A1)) == 1
