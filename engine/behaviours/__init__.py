"""The engine's own reactions to every write, as default plugins of the on_event hook: audit, timeline, states, notices."""
