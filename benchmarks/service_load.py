"""Load on `autograder serve`: N simulated students upload realistic notebooks over HTTP at a steady rate.

    python benchmarks/service_load.py                       # 200 students, 10 uploads per second
    python benchmarks/service_load.py --students 100 --rate 10 --looping 0.02 --workers 3

Starts the real server (`python -m autograder serve --port 0`) on a fresh course folder with its SQLite
gradebook, signs every student in with their link (`autograder serve links`), then has each upload one
notebook of the generated class (samples/make_class.py: correct and buggy code; a `--looping` share gets an
endless loop in a cell) at the given rate, and polls the result page's status until it is graded. Prints the
throughput, the latency from the start of the upload to the finished result (p50, p95, p99; looping notebooks
apart) and the peak memory (Pss) of the server's process tree.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "samples"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from grading_throughput import tree_memory_bytes  # noqa: E402
from make_class import notebook_name, random_class  # noqa: E402

CONFIG = """
c.Autograder.cell_timeout = 2
c.Autograder.policies = {"default": {"attempts": 1000, "before_due": "full"}}
"""


def make_course(folder: Path, keep_figures: bool = True) -> Path:
    for name in ("source", "release", "hidden"):  # the course's hidden checks live in the course folder
        shutil.copytree(ROOT / name, folder / name)
    for name in ("course_config.py", "nbgrader_config.py"):
        shutil.copy(ROOT / name, folder / name)
    with open(folder / "course_config.py", "a") as config:
        config.write(CONFIG)
        config.write(f"c.Autograder.keep_figures = {keep_figures}\n")
    return folder


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class Server:
    def __init__(self, course: Path, workers: int):
        env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(course), "PYTHONPATH": str(ROOT)}
        self.env, self.course = env, course
        self.process = subprocess.Popen([sys.executable, "-m", "autograder", "serve", "--port", "0",
                                         "--workers", str(workers)], cwd=course, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        self.url = "http://127.0.0.1:" + re.search(r"127\.0\.0\.1:(\d+)", line).group(1)
        self.peak, self.running = 0, True
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, tree_memory_bytes(self.process.pid))
            time.sleep(1.0)

    def links(self, students: list[str]) -> dict[str, str]:
        printed = subprocess.run([sys.executable, "-m", "autograder", "serve", "links", "--create", "--url", self.url,
                                  *(f"--student={student}" for student in students)], cwd=self.course,
                                 env=self.env, capture_output=True, text=True, check=True).stdout
        return {line.split("\t")[1]: line.split("\t")[2] for line in printed.splitlines()}

    def stop(self):
        self.running = False
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wait_for_figures(course: Path, timeout: float) -> float | None:
    """The moment no figure record is left (the service deletes one when it has drawn its attempt's figures), or
    None after `timeout` seconds."""
    records = course / ".autograder-cache" / "figures"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(records.rglob("*.json")):
            return time.monotonic()
        time.sleep(0.2)
    return None


def signed_in(link: str) -> requests.Session:
    client = requests.Session()
    client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get(link).text).group(1)
    return client


def submit_and_wait(url: str, client, assignment: str, name: str, data: bytes) -> float:
    """Upload, then poll until graded; seconds from the start of the upload to the finished result."""
    started = time.monotonic()
    response = client.post(f"{url}/assignments/{assignment}/attempts", files={"notebook": (name, data)},
                           data={"csrf_token": client.csrf})
    path = re.search(r"/attempts/\d+$", response.url)
    if response.status_code != 200 or not path:
        raise RuntimeError(f"upload refused ({response.status_code}): {response.text[:300]}")
    while not client.get(f"{url}{path.group(0)}/status?wait=20").json()["done"]:  # as the result page waits
        time.sleep(0.3)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="uploads per second (default 10)")
    parser.add_argument("--looping", type=float, default=0.02, help="share of notebooks with an endless loop")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1, help="sandboxes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-figures", action="store_true",
                        help="c.Autograder.keep_figures = False: autograded notebooks keep no rendered figures")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="autograder-service-load-"))
    course = make_course(folder / "course", keep_figures=not args.no_figures)
    rng = random.Random(args.seed)
    uploads = []  # (student, assignment, file name, bytes, loops)
    by_student: dict[str, list] = {}
    for student, assignment, notebook in random_class(course, args.students, args.seed):
        by_student.setdefault(student, []).append((assignment, notebook))
    for student, choices in by_student.items():
        assignment, notebook = rng.choice(choices)
        loops = rng.random() < args.looping
        if loops:
            notebook.cells.insert(len(notebook.cells) // 2, nbformat.v4.new_code_cell("while True:\n    pass"))
        uploads.append((student, assignment, notebook_name(course, assignment), nbformat.writes(notebook).encode(),
                        loops))
    server = Server(course, args.workers)
    try:
        links = server.links([*by_student, "warm_up"])
        warm = signed_in(links["warm_up"])
        first = uploads[0]
        warm_seconds = submit_and_wait(server.url, warm, first[1], first[2], first[3])
        clients = {student: signed_in(links[student]) for student, *_ in uploads}
        print(f"server warm (first result after {warm_seconds:.1f} s); {len(uploads)} uploads at "
              f"{args.rate:g}/s, {sum(u[4] for u in uploads)} of them looping, {args.workers} sandboxes", flush=True)
        latencies, looping, failures = [], [], []
        started = time.monotonic()

        def one(index, upload):
            student, assignment, name, data, loops = upload
            time.sleep(max(0.0, started + index / args.rate - time.monotonic()))
            try:
                (looping if loops else latencies).append(submit_and_wait(server.url, clients[student], assignment,
                                                                         name, data))
            except Exception as error:  # counted and shown, the run goes on
                failures.append(f"{student}: {error}")

        with ThreadPoolExecutor(max_workers=min(256, len(uploads))) as pool:
            for index, upload in enumerate(uploads):
                pool.submit(one, index, upload)
        wall = time.monotonic() - started
        last_upload = started + (len(uploads) - 1) / args.rate
        figures_done = wait_for_figures(course, timeout=300)
    finally:
        server.stop()
        grading = [json.loads(path.read_text())["seconds"]  # each notebook's own time in its sandbox
                   for path in (course / "service" / "attempts").glob("*/*/*/autograded/results.json")]
        shutil.rmtree(folder, ignore_errors=True)
    done = len(latencies) + len(looping)
    print(f"finished {done} of {len(uploads)} in {wall:.1f} s: {done / wall:.2f} results per second "
          f"(offered {args.rate:g} per second)")
    print(f"latency upload -> finished result, {len(latencies)} non-looping: p50 {percentile(latencies, .5):.2f} s, "
          f"p95 {percentile(latencies, .95):.2f} s, p99 {percentile(latencies, .99):.2f} s, "
          f"mean {statistics.mean(latencies) if latencies else float('nan'):.2f} s")
    if looping:
        print(f"looping notebooks: {len(looping)}, latency p50 {percentile(looping, .5):.2f} s, "
              f"max {max(looping):.2f} s")
    if grading:
        print(f"grading time of one notebook in its sandbox: mean {statistics.mean(grading):.2f} s, "
              f"p50 {percentile(grading, .5):.2f} s, p95 {percentile(grading, .95):.2f} s; "
              f"{args.workers} sandboxes can finish at most {args.workers / statistics.mean(grading):.2f} per second")
    if not args.no_figures:
        print("figures of the counting attempts: " + (
            f"all drawn {figures_done - last_upload:.1f} s after the last upload" if figures_done is not None else
            "NOT all drawn within 300 s"))
    print(f"peak memory (Pss) of the server and its sandboxes: {server.peak / 2**20:.0f} MiB")
    for failure in failures[:10]:
        print(f"FAILED {failure}")


if __name__ == "__main__":
    main()
