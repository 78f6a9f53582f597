"""The JSON API under /api/v1: a thin adapter over the record service."""
