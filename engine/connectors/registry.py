"""Every connector type by name: the built-in ones and those plugins add through the `connector_types` hook."""
from __future__ import annotations

from engine.connectors.adapters import Adapter
from engine.connectors.email import Email
from engine.connectors.rest import Rest
from engine.connectors.sms import Sms

BUILT_IN: dict[str, type] = {"rest": Rest, "email": Email, "sms": Sms}  # outbound types, each an Adapter
INBOUND = ("webhook",)  # received by the engine itself (engine.connectors.webhooks): no adapter


def registry(plugin_manager) -> dict[str, Adapter]:
    """Every connector type: the built-in ones, then those the plugins add (a plugin's type may not replace a built-in one)."""
    types: dict[str, Adapter] = {name: cls() for name, cls in BUILT_IN.items()}
    for added in plugin_manager.hook.connector_types():
        for name, adapter in (added or {}).items():
            types.setdefault(name, adapter)
    return types
