"""Background work on Huey: every minute a periodic task fires due SLA timers and another hands the
outbox's new events to the subscribers outside the transaction (also right after each commit that
emitted events, when a plugin implements `publish`); every night the outbox forgets events older
than the retention that every subscriber has taken, and the bell forgets notifications read long ago. Imports too large to run within a request run
here (engine.imports.jobs), their progress kept in the queue's key-value store.

The queue lives in SQLite by default (a file next to the app's database, nothing to set up) and
in Redis to scale out (`ENGINE_QUEUE_URL=redis://host:6379/0`). `python run.py` runs a consumer
inside the web process; `python run.py worker` runs one on its own (then serve with
`--no-worker`). Any number of consumers may run against one database: each timer is claimed with
a compare-and-set in the database, so none fires twice."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from huey import RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from engine.app.runtime import Runtime
from engine.connectors import deliveries
from engine.connectors.registry import registry as connector_types
from engine.core.settings import positive_number
from engine.events import deliver, outbox
from engine.files import s3
from engine.imports import jobs as import_jobs
from engine.records import notifications
from engine.storage import migrate
from engine.storage.db import project_var
from engine.workflow import escalations


def queue_url(db_url: str) -> str:
    """ENGINE_QUEUE_URL, else a SQLite queue beside a SQLite database (or in var/ beside run.py for
    PostgreSQL), whatever the current folder."""
    url = os.environ.get("ENGINE_QUEUE_URL")
    if url:
        return url
    if db_url.startswith("sqlite:///") and db_url != "sqlite:///:memory:":
        return "sqlite:///" + str(Path(db_url[len("sqlite:///"):]).with_suffix(".tasks.db"))
    return "sqlite:///" + str(project_var() / "tasks.db")


def make_queue(rt: Runtime, url: str, name: str = "engine"):
    """A Huey instance with the engine's tasks registered on it."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        huey = RedisHuey(name, url=url)
    elif url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(name, filename=str(path))
    else:
        raise ValueError(f"ENGINE_QUEUE_URL must start with redis:// or sqlite:///, not {url!r}")

    adapters = connector_types(rt.records.plugin_manager)  # the connector types: built-in and the plugins'

    def run() -> int:
        rt.refresh()  # admin changes saved since: the same forms (and conditions) as the web processes
        return len(escalations.run_due(rt.records))

    @huey.periodic_task(crontab(minute="*"), name="sla_timers")
    def sla_timers() -> int:
        """Every minute: fire each SLA timer that is due (reminders, escalations, automatic transitions)."""
        return run()

    @huey.task(name="sla_timers_now")
    def sla_timers_now() -> int:
        """The same, on demand (after a restart, or from an admin); returns how many fired."""
        return run()

    def hand_out() -> int:
        rt.refresh()
        return deliver.deliver(rt.records)

    @huey.periodic_task(crontab(minute="*"), name="deliver_events")
    def deliver_events() -> int:
        """Every minute: hand the outbox's new events to the subscribers outside the transaction (`publish`)."""
        return hand_out()

    @huey.task(name="deliver_events_now")
    def deliver_events_now() -> int:
        """The same, right after a commit that emitted events (Records.wake), and when a worker starts."""
        return hand_out()

    @huey.periodic_task(crontab(minute="17", hour="3"), name="prune_events")
    def prune_events() -> int:
        """Every night: forget events older than the retention (ENGINE_EVENT_RETENTION_DAYS) that every subscriber has taken."""
        with rt.db.write() as conn:
            return outbox.prune(conn, rt.schema, dt.datetime.now(dt.timezone.utc) - retention(), deliver.subscribers(rt.records))

    def connect() -> int:
        rt.refresh()
        tried, following = deliveries.send_due(rt.records, adapters)
        if following is not None:  # a retry due within the minute: run again then (the periodic task covers longer waits)
            wait = (following - rt.records.clock()).total_seconds()
            if wait < 60:
                connectors_now.schedule(delay=max(0.05, wait))
        return tried

    @huey.periodic_task(crontab(minute="*"), name="connectors")
    def connectors() -> int:
        """Every minute: send the connectors' deliveries that are due (retries included)."""
        return connect()

    @huey.task(name="connectors_now")
    def connectors_now() -> int:
        """The same, right after a commit that emitted events, and when a retry falls due within the minute."""
        return connect()

    @huey.task(name="import_job")
    def import_job(job_id: int) -> str | None:
        """Run one import job (engine.imports.jobs), its progress kept beside the queue."""
        rt.refresh()
        return import_jobs.run(rt.records, job_id, huey)

    @huey.periodic_task(crontab(minute="*"), name="import_jobs")
    def import_jobs_due() -> int:
        """Every minute: run again the imports whose run went silent (a process died), and those the queue lost."""
        ids = import_jobs.requeue_stale(rt.records, huey)
        for job_id in ids:
            import_job(job_id)
        return len(ids)

    @huey.periodic_task(crontab(minute="37", hour="3"), name="prune_imports")
    def prune_imports() -> int:
        """Every night: forget imports older than ENGINE_IMPORT_KEEP_DAYS (default 7), files and all."""
        return import_jobs.prune(rt.records)

    @huey.periodic_task(crontab(minute="47", hour="3"), name="prune_files")
    def prune_files() -> int:
        """Every night, with the S3 store on: delete the objects no file refers to (uploads whose transaction rolled back)."""
        store = rt.files.blobs.store
        return s3.prune_orphans(rt.db, rt.schema, store) if isinstance(store, s3.S3Store) else 0

    @huey.periodic_task(crontab(minute="57", hour="3"), name="prune_notifications")
    def prune_notifications() -> int:
        """Every night: forget notifications read more than ENGINE_NOTIFICATION_KEEP_DAYS ago (default 90); unread ones stay."""
        return notifications.prune(rt.db, rt.schema, dt.datetime.now(dt.timezone.utc) - notification_keep())

    @huey.periodic_task(crontab(minute="7", hour="4"), name="analyze")
    def analyze() -> int:
        """Every night, on SQLite: refresh what the planner knows of the indexes (engine.storage.migrate.analyze)."""
        with rt.db.write() as conn:
            migrate.analyze(conn)
        return 1

    huey.prune_notifications, huey.analyze = prune_notifications, analyze
    huey.import_job, huey.import_jobs, huey.prune_imports, huey.prune_files = import_job, import_jobs_due, prune_imports, prune_files
    rt.queue = huey  # the web side queues imports on it and reads their progress from it
    huey.sla_timers, huey.sla_timers_now = sla_timers, sla_timers_now
    huey.deliver_events, huey.deliver_events_now, huey.prune_events = deliver_events, deliver_events_now, prune_events
    huey.connectors, huey.connectors_now = connectors, connectors_now
    publishers = bool(rt.records.plugin_manager.hook.publish.get_hookimpls())
    sending = bool(deliveries.active(rt.records, adapters))
    if publishers or sending:  # someone outside the transaction listens: wake the queue after commits
        def wake():
            if publishers:
                deliver_events_now()
            if sending:
                connectors_now()
        rt.records.wake = wake
    return huey


def retention() -> dt.timedelta:
    """How long the outbox keeps events for the feed: ENGINE_EVENT_RETENTION_DAYS (default 30)."""
    return dt.timedelta(days=positive_number("ENGINE_EVENT_RETENTION_DAYS", 30))


def notification_keep() -> dt.timedelta:
    """How long a read notification is kept: ENGINE_NOTIFICATION_KEEP_DAYS (default 90)."""
    return dt.timedelta(days=positive_number("ENGINE_NOTIFICATION_KEEP_DAYS", 90))


class EmbeddedConsumer(Consumer):
    """A consumer that runs beside the web server and leaves signal handling to it."""

    def _set_signal_handlers(self):
        pass


def catch_up(huey) -> None:
    """When a consumer starts: whatever a worker stopped before could finish - events no subscriber has
    taken yet, deliveries due (or left mid-send, once their lease is over)."""
    huey.deliver_events_now()
    huey.connectors_now()


IDLE_POLL = 1.0  # seconds at most between two looks at an idle SQLite queue (Huey's default, 10, kept a queued import waiting)


def start_embedded(huey) -> Consumer:
    consumer = EmbeddedConsumer(huey, workers=1, periodic=True, worker_type="thread", max_delay=IDLE_POLL)
    consumer.start()
    catch_up(huey)
    return consumer
