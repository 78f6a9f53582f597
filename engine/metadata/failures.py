"""What failed its own checks, so that the checks depending on it stay quiet.

One mistake is reported once, where it is made. A document that cannot be parsed or does not
match its schema is not built, and a field that fails its own checks is left out of its entity;
the cross-reference checks that would look into them - a link or a role naming that entity, a
form listing its fields, a workflow on it, a form section naming that workflow's states, a
notification naming a role of a broken roles.yaml - cannot tell a real mistake from a
consequence, so they say nothing about what failed. Everything else they still check, so an
independent mistake elsewhere is never hidden behind the first one.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class AnyName(frozenset):
    """A set of names that holds every name: what a document that failed might have declared."""

    def __contains__(self, item) -> bool:
        return True

    def __repr__(self) -> str:
        return "AnyName()"


ANY = AnyName()


@dataclass
class Failed:
    """The documents and names that failed, as the loader finds them."""

    entities: set[str] = field(default_factory=set)  # entity names (and file stems) whose document failed
    entity_data: list = field(default_factory=list)  # those documents' data, where it could be parsed
    unreadable_entity: bool = False  # an entity file that could not be parsed at all: its contents are unknown
    fields: dict[str, set[str]] = field(default_factory=dict)  # entity -> fields that failed their own checks
    orphans: set[str] = field(default_factory=set)  # child entities whose parent may be in a failed document
    roles: bool = False  # roles.yaml is there but failed: any role or user attribute may exist
    connectors: bool = False  # a connector file failed: any notification channel may be carried
    workflows: set[str] = field(default_factory=set)  # entities whose workflow failed before its states were known
    reports: set[str] = field(default_factory=set)  # reports that failed their own checks (a dashboard naming one stays quiet)
    unreadable_workflow: bool = False  # a workflow file that failed before its entity was known

    def add_entity(self, stem: str, data) -> None:
        self.entities.add(stem)
        if isinstance(data, dict):
            if isinstance(data.get("name"), str):
                self.entities.add(data["name"])
            self.entity_data.append(data)
        else:
            self.unreadable_entity = True

    def add_workflow(self, data) -> None:
        entity = data.get("entity") if isinstance(data, dict) else None
        if isinstance(entity, str):
            self.workflows.add(entity)
        else:
            self.unreadable_workflow = True

    def entity(self, name) -> bool:
        """Did the document of entity `name` fail (so nothing can be said about its contents)?"""
        return name in self.entities

    def field(self, entity: str, name: str) -> bool:
        """Did field `name` of `entity` fail its own checks, or its whole document?"""
        return entity in self.entities or name in self.fields.get(entity, ())

    def may_be_parent_of(self, child: str) -> bool:
        """Could a failed entity document be the one whose table field holds `child`?"""
        if self.unreadable_entity:
            return True
        for data in self.entity_data:
            specs = data.get("fields")
            if not isinstance(specs, dict):
                return True  # its fields are unknown
            for s in specs.values():
                if isinstance(s, dict) and (child in s.values() or s.get("type") == "table" and s.get("entity") is None):
                    return True  # it names the child, perhaps under a misspelt key, or has a table without its entity
        return False

    def states_unknown(self, entity: str) -> bool:
        """Did the workflow of `entity` fail before its states were known?"""
        return entity in self.workflows or self.unreadable_workflow
