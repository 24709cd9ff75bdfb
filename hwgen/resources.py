"""Locate data shipped with hwgen: board files, RTL templates and examples.

In a wheel they live in ``hwgen/_data/``; in a source checkout (editable install) at the
repository root beside the package.
"""
from pathlib import Path

__all__ = ["data_dir"]

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Directory of shipped data ``name`` (``boards``, ``rtl_templates`` or ``examples``)."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"hwgen data folder {name!r} is missing from the installation")
