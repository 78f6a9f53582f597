"""The record service: the only writer, and the one reader, of entity data."""
from engine.records.service import Records

__all__ = ["Records"]
