"""The spec reference (``docs/spec.md``), generated from the spec's dataclasses: every key, its
type, its default and its meaning, the meaning being the ``#:`` comment above the field.

    python -m hwgen.spec.reference            # print it
    python -m hwgen.spec.reference --write    # write docs/spec.md

A test fails when ``docs/spec.md`` differs from what this writes, or when a key has no ``#:``
comment.
"""
import argparse
import dataclasses
import inspect
import re
import sys
import textwrap
import typing
from pathlib import Path

from .typed_yaml import type_name, yaml_key

__all__ = ["reference_markdown", "field_docs", "sections", "Section"]

_FIELD = re.compile(r"^    (\w+)\s*:")
_DOC = re.compile(r"^    #:\s?(.*)$")


def field_docs(cls) -> dict[str, str]:
    """The ``#:`` comment above each field of dataclass ``cls``, by field name, lines joined."""
    docs, pending = {}, []
    for line in textwrap.dedent(inspect.getsource(cls)).splitlines():
        comment = _DOC.match(line)
        if comment:
            pending.append(comment.group(1).strip())
            continue
        declared = _FIELD.match(line)
        if declared and pending:
            docs[declared.group(1)] = " ".join(pending)
        pending = []
    return docs


@dataclasses.dataclass(frozen=True)
class Section:
    """One mapping of the spec: its key path, its dataclass, and a title."""
    path: str
    cls: type
    title: str


def _dataclasses_in(hint) -> list[type]:
    if dataclasses.is_dataclass(hint):
        return [hint]
    return [cls for arg in typing.get_args(hint) for cls in _dataclasses_in(arg)]


def sections(root, path: str = "", title: str = "Top level") -> list[Section]:
    """``root`` (a spec dataclass) at key path ``path`` and every mapping under it, depth
    first, in field order."""
    result = [Section(path, root, title)]
    hints = typing.get_type_hints(root)
    for f in dataclasses.fields(root):
        if f.metadata.get("internal"):
            continue
        key = f"{path}.{yaml_key(f)}" if path else yaml_key(f)
        for cls in _dataclasses_in(hints[f.name]):
            tag = typing.get_type_hints(cls).get("type")
            if typing.get_origin(tag) is typing.Literal:      # one of a list's tagged kinds
                result += sections(cls, f"{key}[]",
                                   f"`{key}[]` with `type: {typing.get_args(tag)[0]}`")
            else:
                result += sections(cls, key, f"`{key}`")
    return result


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if dataclasses.is_dataclass(value):
        return "(its defaults)"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"`{value}`"


def _rows(section: Section) -> list[tuple[str, str, str, str]]:
    docs = field_docs(section.cls)
    hints = typing.get_type_hints(section.cls)
    rows = []
    for f in dataclasses.fields(section.cls):
        if f.metadata.get("internal"):
            continue
        hint = hints[f.name]
        key = yaml_key(f)
        path = f"{section.path}.{key}" if section.path else key
        if typing.get_origin(hint) is tuple and _dataclasses_in(hint):
            kind = f"a list of mappings (`{path}[]` below)"
        elif _dataclasses_in(hint):
            kind = f"a mapping (`{path}` below)"
        else:
            kind = type_name(hint)
        rows.append((f"`{key}`", kind, _default(f), docs.get(f.name, "")))
    return rows


def undocumented(root) -> list[str]:
    """Key paths under ``root`` that have no ``#:`` comment."""
    missing = []
    for section in sections(root):
        for key, _type, _default_text, meaning in _rows(section):
            if not meaning:
                missing.append(f"{section.path}.{key.strip('`')}" if section.path
                               else key.strip("`"))
    return missing


def reference_markdown() -> str:
    """The text of ``docs/spec.md``."""
    from . import Spec
    lines = ["# Spec reference", "",
             "Every key of a spec file, its type, default and meaning, generated from the spec's "
             "dataclasses (`python -m hwgen.spec.reference --write`; a test fails when this file "
             "is stale). A spec is validated before anything runs: an unknown key, a wrong type "
             "or an impossible value is one line naming the file, the key and what is allowed. "
             "Sections and keys left out take their defaults.", ""]
    for section in sections(Spec):
        lines += [f"## {section.title}", ""]
        doc = inspect.getdoc(section.cls) if section.path else None
        if doc and not doc.startswith(f"{section.cls.__name__}("):     # not dataclass's own
            lines += [_markdown(" ".join(doc.split())), ""]
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for row in _rows(section):
            lines.append("| " + " | ".join(_markdown(cell).replace("|", "\\|") for cell in row)
                         + " |")
        lines.append("")
    return "\n".join(lines)


_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data):`~?([^`]+)`")


def _markdown(text: str) -> str:
    """reStructuredText's inline markup as Markdown: ````x```` and ``:role:`x``` as ```x```."""
    return _ROLE.sub(r"`\1`", text.replace("``", "`"))


def _docs_file() -> Path:
    return Path(__file__).resolve().parents[2] / "docs" / "spec.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help=f"write {_docs_file()} instead of printing")
    args = parser.parse_args(argv)
    text = reference_markdown()
    if args.write:
        _docs_file().write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
