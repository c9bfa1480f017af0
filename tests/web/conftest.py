import pytest

from served import ThreadServer, make_course


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One real server for the tests of the web service that can share it (its sandboxes start once)."""
    served = ThreadServer(make_course(tmp_path_factory.mktemp("web") / "course"), max_upload_mb=1)
    yield served
    served.close()
