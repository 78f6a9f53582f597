"""The `erp` fixture: the shop app with its connector pointed at a local receiver that fails on purpose."""
import pytest

from engine.connectors import deliveries
from engine.connectors.registry import registry
from tests.apps import write_app
from tests.connectors.receiver import Receiver
from tests.connectors.shop import APP, SECRET, Clock


@pytest.fixture
def erp(dbs, tmp_path, monkeypatch):
    """(runtime, receiver, clock, run) - `run()` takes new events and sends what is due, as the worker does."""
    receiver = Receiver()
    monkeypatch.setenv("TEST_ERP_URL", receiver.url)
    monkeypatch.setenv("TEST_ERP_TOKEN", "t0ken")
    monkeypatch.setenv("TEST_ERP_SECRET", SECRET)
    rt = dbs.runtime(write_app(tmp_path / "app", APP))
    clock = rt.records.clock = Clock()
    adapters = registry(rt.records.plugin_manager)

    def run():
        return deliveries.send_due(rt.records, adapters)
    yield rt, receiver, clock, run
    receiver.stop()
