"""A real Moodle launch of an LTI activity as USER, followed as a browser would (without JavaScript: the tool's
cookie check is skipped with lti1p3_new_window=1, as its new-window link does): Moodle's launch form to the tool's
login, the tool's redirect to Moodle's auth.php, Moodle's id_token form to the tool's launch.
Usage: launch.py USER PASSWORD CMID; prints one JSON line: the tool's status, where it sends the browser, and the
refusal message of a refused launch."""
import json
import re
import sys
from html import unescape

import requests

sys.path.insert(0, "/tmp/moodle-lab/scripts")
from moodle_http import BASE, Forms  # noqa: E402


def form_of(html: str) -> tuple[str, list]:
    parser = Forms()
    parser.feed(html)
    form = next(f for f in parser.forms if f["fields"])
    return unescape(form["action"]), form["fields"]


def launch(user: str, password: str, cmid: int) -> dict:
    browser = requests.Session()
    page = browser.get(BASE + "/login/index.php").text
    token = re.search(r'name="logintoken" value="([^"]*)"', page).group(1)
    signed_in = browser.post(BASE + "/login/index.php", data={"username": user, "password": password,
                                                               "logintoken": token})
    assert "logout.php" in signed_in.text, f"{user} could not log in to Moodle"
    action, fields = form_of(browser.get(f"{BASE}/mod/lti/launch.php?id={cmid}").text)   # to the tool's login
    login = browser.post(action, data=fields + [("lti1p3_new_window", "1")], allow_redirects=False)
    if login.status_code != 302:
        return {"user": user, "step": "login", "status": login.status_code, "message": message(login.text)}
    action, fields = form_of(browser.get(login.headers["Location"]).text)                  # Moodle's auth.php
    answer = browser.post(action, data=fields, allow_redirects=False)                      # the tool's launch
    tool = action.rsplit("/lti/", 1)[0]
    pages = {page: browser.get(tool + page, allow_redirects=False).status_code      # signed in as whom, if anyone
             for page in ("/instructor/", "/assignments")}
    return {"user": user, "step": "launch", "status": answer.status_code,
            "location": answer.headers.get("Location"), "message": message(answer.text),
            "approve": message(answer.text, "approve"), "then": pages}


def message(html: str, element: str = "message") -> str:
    found = re.search(rf'id="{element}"[^>]*>(.*?)</p>', html, re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", "", found.group(1))).split()) if found else ""


if __name__ == "__main__":
    print(json.dumps(launch(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
