"""Web screens (HTML + htmx) generated from the metadata, over the same record service as the API."""
