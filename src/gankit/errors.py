"""The one exception type that gankit raises for a user's mistake.

The CLI turns it into a single line on stderr and exit code 2; in a notebook it is an
ordinary exception whose message says what was wrong and what is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable


class GankitError(Exception):
    """A bad input or an unusable file: the message is the whole explanation."""


def bad_value(name: str, value: object, accepted: str | Iterable[str]) -> GankitError:
    """Build the standard one-line message: `name=value is not valid; accepted: ...`."""
    if not isinstance(accepted, str):
        accepted = ", ".join(str(a) for a in accepted)
    return GankitError(f"{name}={value!r} is not valid; accepted: {accepted}")
