"""A low-code engine that turns YAML metadata into a database, a record service and a JSON API."""

__version__ = "0.1.0"
