"""Every table of an app in one Schema: the entities' tables and the engine's own, which each
package declares beside the code that uses them (access, storage, events, records, workflow, connectors, imports, files, comments)."""
from __future__ import annotations

from engine.access import tables as access_tables
from engine.comments import tables as comment_tables
from engine.connectors import tables as connector_tables
from engine.events import tables as event_tables
from engine.files import tables as file_tables
from engine.imports import tables as import_tables
from engine.metadata.model import App
from engine.records import tables as record_tables
from engine.storage import tables as storage_tables
from engine.storage.schema import Schema
from engine.workflow import tables as workflow_tables

SYSTEM = (access_tables.declare, storage_tables.declare, event_tables.declare, workflow_tables.declare, record_tables.declare,
          connector_tables.declare, import_tables.declare, file_tables.declare, comment_tables.declare)


def schema_for(app: App, keep_columns: dict | None = None) -> Schema:
    """The app's tables and the engine's own."""
    return Schema(app, SYSTEM, keep_columns)
