"""Domain events: what a write did, emitted inside its transaction, stored in the outbox and handed
to subscribers (docs/architecture.md)."""
