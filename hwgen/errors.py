"""Errors a user can act on. The CLI prints them as one line and exits with status 2."""
import math
import re
import reprlib

__all__ = ["HwgenError", "SpecError", "FieldError", "excerpt", "allowed_divisors"]


class HwgenError(Exception):
    """A failure with a message meant for the user (no traceback)."""


class SpecError(HwgenError):
    """Invalid input: ``file: key.path: problem (allowed: ...)``."""

    def __init__(self, file, key: str | None, problem: str, allowed: str | None = None):
        self.file, self.key, self.problem, self.allowed = file, key, problem, allowed
        parts = [str(file)]
        if key:
            parts.append(key)
        message = ": ".join(parts + [problem])
        if allowed:
            message += f" (allowed: {allowed})"
        super().__init__(message)


class FieldError(ValueError):
    """A bad value of one field of a checked dataclass (a board, a CIM macro): ``key`` names
    the field, ``problem`` says what is wrong and ``allowed`` (or None) what would do. A file
    loader turns it into the :class:`SpecError` of the file and key path it read."""

    def __init__(self, key: str, problem: str, allowed: str | None = None):
        self.key, self.problem, self.allowed = key, problem, allowed
        super().__init__(f"{key}: {problem}" + (f" (allowed: {allowed})" if allowed else ""))


def _make_repr() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxlevel = 3
    short.maxtuple = short.maxlist = short.maxdict = short.maxset = short.maxfrozenset = 6
    short.maxstring = short.maxother = 60
    short.maxlong = 60
    return short


_REPR = _make_repr()
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def excerpt(value, limit: int = 100) -> str:
    """``repr(value)``, cut short: at most ``limit`` characters however large or nested the
    value is (YAML aliases make huge values of small files), on one line. Every message that
    quotes a value from a file quotes it through this."""
    try:
        text = repr(value[:limit]) if isinstance(value, str) else _REPR.repr(value)
    except Exception:                       # a value whose repr fails is still reported
        text = f"<{type(value).__name__}>"
    text = _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


#: Trial divisions :func:`allowed_divisors` makes at most (it finds every divisor of n <= this**2).
_DIVISOR_SEARCH = 1 << 16
#: Allowed values :func:`allowed_divisors` lists in full; more are shortened.
_DIVISORS_SHOWN = 16


def allowed_divisors(n: int, scale: int = 1) -> str:
    """The divisors of ``n`` (each times ``scale``) as the allowed values of an error: all of
    them when few, else the smallest and largest few and how many there are. Bounded time for
    any ``n``: trial division up to sqrt(n), at most :data:`_DIVISOR_SEARCH` steps."""
    root = math.isqrt(n)
    small, large = [], []
    for d in range(1, min(root, _DIVISOR_SEARCH) + 1):
        if n % d == 0:
            small.append(d)
            if d != n // d:
                large.append(n // d)
    values = [scale * d for d in small + large[::-1]]
    if root > _DIVISOR_SEARCH:       # a huge n: its small and large divisors, not the middle
        shown = [scale * d for d in small[:8]] + ["..."] + [scale * d for d in large[:2][::-1]]
        return (", ".join(str(v) for v in shown) + f" (the divisors of {n}"
                + (f", times {scale})" if scale != 1 else ")"))
    if len(values) <= _DIVISORS_SHOWN:
        return ", ".join(str(v) for v in values)
    return (", ".join(str(v) for v in values[:10]) + ", ..., "
            + ", ".join(str(v) for v in values[-3:]) + f" ({len(values)} values)")
