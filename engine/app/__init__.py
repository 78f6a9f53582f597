"""The assembled engine a process runs: the Runtime (database, metadata, record service, plugins), the task queue, the demo data."""
