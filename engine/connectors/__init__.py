"""Connectors: the engine's conversations with systems outside, declared in connectors/*.yaml.

Outbound (`rest`): each connector takes the outbox's events after their commit (engine.events), keeps
its own place in it, and turns every event its triggers match into a delivery (sys_delivery) in the
same transaction that moves its place - so each event becomes one delivery, once. The worker sends
due deliveries with the event id as the idempotency key, retries with backoff, keeps every attempt,
and gives up (dead) after the last one; an admin may retry or replay one.
"""
