"""The demo with its two customer contacts (client_east, client_west), shared by a module's tests."""
import pytest
from starlette.testclient import TestClient

from engine.app import demo
from engine.server import create_app
from tests.conftest import DatabaseFactory
from tests.web.test_pages import SECRET


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    f = DatabaseFactory(tmp_path_factory.mktemp("portal"))
    rt = f.runtime()
    demo.load(rt)
    yield rt
    f.close()


@pytest.fixture
def web(site):
    with TestClient(create_app(site, secret_key=SECRET), raise_server_exceptions=False) as c:
        yield c

