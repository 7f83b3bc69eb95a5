"""Registries: the one place where a kind of thing (a loss, a model, a dataset) is named.

Each owner module keeps one `Registry` and adds an entry per name; `TrainConfig` validates its
fields against them, so a name list never exists twice. A lookup of an unknown name raises the
standard one-line error that lists the accepted names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from gankit.errors import bad_value

Entry = TypeVar("Entry")

# The name a config records for what the user brought (their own networks or loss): not built from a registry.
CUSTOM = "custom"


class Registry(Generic[Entry]):
    """Names -> entries, in the order they were added. `field` names the config field it validates."""

    def __init__(self, field: str, *, custom: str | None = None):
        self.field = field
        self.custom = custom  # what "custom" means for this field (None: the field has no custom value)
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, entry: Entry) -> Entry:
        """Register `entry` under `name` (once: a second entry of a name is a programming error)."""
        if name in self._entries or name == CUSTOM:
            raise ValueError(f"{self.field} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> Entry:
        if name not in self._entries:
            raise bad_value(self.field, name, self.accepted())
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):
        """(name, entry) pairs, in the order they were added."""
        return self._entries.items()

    def names(self) -> tuple[str, ...]:
        """The registered names, in the order they were added."""
        return tuple(self._entries)

    def valid(self, name: str) -> bool:
        """Whether a config may name `name`: a registered entry, or `custom` where the field has one."""
        return name in self._entries or (self.custom is not None and name == CUSTOM)

    def check(self, name: str) -> None:
        """GankitError (one line listing what is accepted) unless `name` is valid for the field."""
        if not self.valid(name):
            raise bad_value(self.field, name, self.accepted())

    def accepted(self) -> list[str]:
        """What the field accepts, for error messages and --help."""
        names = list(self._entries)
        if self.custom is not None:
            names.append(f"{CUSTOM} ({self.custom})")
        return names
