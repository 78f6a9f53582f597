"""Reports: figures over an entity's records, within each reader's scope (docs/reports.md)."""
