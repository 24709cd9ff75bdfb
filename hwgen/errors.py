"""Errors a user can act on. The CLI prints them as one line and exits with status 2."""

__all__ = ["HwgenError", "SpecError"]


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
