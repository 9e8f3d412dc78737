"""The one error type users see: a one-line message naming the bad value and what is allowed."""

from __future__ import annotations


class NasError(ValueError):
    """A usage or input error. The CLI prints its message on one line and exits with code 2."""


class SizeCollapseError(NasError):
    """A tensor size reached zero or below: the input is too small for the network's downsampling."""


class TypeMismatchError(NasError):
    """An operation was applied to a tensor type it does not accept (raised at resolve time)."""


def one_of(what: str, value: object, allowed: object) -> NasError:
    """The standard 'bad value, allowed values' error."""
    if isinstance(allowed, (list, tuple, set, frozenset)):
        allowed = ", ".join(str(a) for a in sorted(allowed, key=str))
    return NasError(f"unknown {what} {value!r}; allowed: {allowed}")
