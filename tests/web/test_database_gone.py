"""The service on a PostgreSQL gradebook that goes away and comes back: a clear 503 page meanwhile, nothing
stored lost, and the pages work again once the database is back."""
import re

import pytest

from postgres_server import PostgresServer
from served import A1, ONE_ASSIGNMENT_CONFIG, ThreadServer, make_course, message, sample, upload, \
    wait_done

pytestmark = pytest.mark.slow  # the service and a PostgreSQL server


def pg_ctl(server: PostgresServer, *args: str):
    options = f"-h 127.0.0.1 -p {server.port} -k {server.folder} -c fsync=off -c max_connections=60"
    done = server._as_owner(str(server.bin / "pg_ctl"), "-D", str(server.data), "-l", str(server.folder / "log"),
                            "-w", "-t", "30", "-o", options, *args)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def postgres():
    with PostgresServer() as server:
        yield server


def test_a_database_that_went_away_gets_a_clear_page_and_loses_nothing(postgres, tmp_path):
    served = ThreadServer(make_course(tmp_path / "course", ONE_ASSIGNMENT_CONFIG), db_url=postgres.url("gradebook"),
                          workers=1)
    try:
        client = served.session("ada")
        response = upload(client, served.url, A1, sample("ada_lovelace", A1).read_bytes())
        path = re.search(r"/attempts/\d+$", response.url).group(0)
        assert wait_done(client, served.url, path)["score"] == 7.0

        pg_ctl(postgres, "-m", "immediate", "stop")
        for page in (client.get(f"{served.url}/assignments"), client.get(served.url + path),
                     upload(client, served.url, A1, sample("ada_lovelace", A1).read_bytes())):
            assert page.status_code == 503
            assert "The grade database cannot be reached at the moment. Nothing you already submitted is lost." \
                in message(page.text)

        pg_ctl(postgres, "start")
        page = client.get(served.url + path)
        assert page.status_code == 200 and "7 of 7 points so far; 2 more points to be graded by your instructor" \
            in page.text
        assert [(a.number, a.status, a.score) for a in served.service.store.attempts("ada")] == [(1, "done", 7.0)]
    finally:
        served.close()
