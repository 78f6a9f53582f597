"""Who is acting, and through which path (screen, api, import, workflow, system)."""
from __future__ import annotations

from dataclasses import dataclass, field

PATHS = ("screen", "api", "import", "workflow", "system")


@dataclass(frozen=True)
class Actor:
    id: int | None
    username: str
    roles: frozenset = field(default_factory=frozenset)
    via: str = "api"
    full_name: str = ""
    language: str = ""  # the user's chosen language; empty: not chosen (screens use the browser's)
    time_zone: str = ""  # the user's chosen time zone (IANA, e.g. Asia/Shanghai); empty: the app's
    attributes: dict = field(default_factory=dict, compare=False, hash=False)  # roles.yaml's user_fields (region...)
    party: int | None = None  # a portal user's party: the id of the customer (supplier, partner) record they are a contact of

    def context(self) -> dict:
        """The `user` object that expressions see."""
        return {**self.attributes, "id": self.id, "username": self.username, "full_name": self.full_name, "language": self.language,
                "party": self.party}

    def through(self, via: str) -> "Actor":
        from dataclasses import replace
        if via not in PATHS:
            raise ValueError(f"unknown path {via}")
        return replace(self, via=via)


SYSTEM = Actor(id=None, username="system", roles=frozenset({"admin"}), via="system")
