"""Our own exceptions: what went wrong, where, and how to fix it, in words an analyst uses.

The tree::

    JourneysError            anything the tool refuses to do, with a readable message
    ├── ConfigError          a pathway config or stage model that is broken or does not fit the model
    ├── InputError           an input file that cannot be read at all (missing, not a table, wrong format)
    └── BuildError           the inputs were read but nothing could be built from them

Problems with individual rows are never exceptions: they are `Issue`s in the report
(see `journeys.issues`). Only the CLI and the app turn these exceptions into output.
"""

from __future__ import annotations


class JourneysError(Exception):
    """Base class: the message is complete and safe to show to a user as it is."""

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        """The message in the house style: where, what, then how to fix it."""
        parts = []
        if self.where:
            parts.append(f"{self.where}: {self.what}")
        else:
            parts.append(self.what)
        if self.fix:
            parts.append(f"To fix this: {self.fix}")
        return "\n".join(parts)


class ConfigError(JourneysError):
    """A pathway config or stage model that cannot be used."""


class InputError(JourneysError):
    """An input file that cannot be read as a table at all."""


class BuildError(JourneysError):
    """Inputs were read, but no journeys can be built from them."""
