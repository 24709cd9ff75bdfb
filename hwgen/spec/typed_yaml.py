"""The typed-YAML loader under the spec and board files: PyYAML's safe loader, bounded, and
a builder of frozen dataclasses from the parsed mapping by their type hints.

:func:`read_yaml` refuses a file that is huge, nested too deep or whose aliases expand beyond
:data:`MAX_YAML_NODES` before building it. :func:`build` turns a mapping into a dataclass (and
its nested dataclasses, tuples, literals, optional sections and ``type``-tagged unions), every
problem one :class:`~hwgen.errors.SpecError` naming the file, the key path and what is allowed;
a key's YAML name is its field's ``metadata["yaml"]`` (else the field's name), fields with
``metadata["internal"]`` are not keys, a :class:`~hwgen.errors.FieldError` of the class's own
checks (``__post_init__``) names the key it is about, and a built object's
``check(key, file)`` runs last. Values quoted in a message go through
:func:`~hwgen.errors.excerpt`, never whole.
"""
import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Literal

import yaml

from ..errors import FieldError, SpecError, excerpt

__all__ = ["read_yaml", "build", "excerpt", "is_file", "key_text", "yaml_key", "type_name", "MAX_INT",
           "MAX_STRING", "MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES"]

#: Integers of any key (they reach numpy and torch as int64).
MAX_INT = 2 ** 63 - 1
#: Characters of any string of a file (names, paths).
MAX_STRING = 1024
#: What a YAML file may hold: bytes, nesting levels, nodes with every alias expanded.
MAX_YAML_BYTES = 1 << 20
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 100_000

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def yaml_key(f: dataclasses.Field) -> str:
    """The YAML key of a dataclass field."""
    return f.metadata.get("yaml", f.name)

def type_name(hint) -> str:
    """How a message names the type ``hint`` (``an integer``, ``one of 'a', 'b'``, ...)."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(hint))
    if origin is tuple:
        return "a list"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    if hint is type(None):
        return "null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _tagged(args) -> dict | None:
    """``{type value: class}`` when ``args`` are dataclasses told apart by a Literal ``type``."""
    tags = {}
    for arg in args:
        hint = typing.get_type_hints(arg).get("type") if dataclasses.is_dataclass(arg) else None
        if typing.get_origin(hint) is not Literal:
            return None
        tags.update((value, arg) for value in typing.get_args(hint))
    return tags


def _convert(value, hint, key: str, file):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        others = [arg for arg in args if arg is not type(None)]
        if len(others) == 1 and dataclasses.is_dataclass(others[0]):
            # An optional section: report what is wrong inside it, not "expected a mapping".
            return _convert(value, others[0], key, file)
        tags = _tagged(args)
        if tags is not None:
            if not isinstance(value, dict):
                raise SpecError(file, key, f"expected a mapping, got {excerpt(value)}")
            if "type" not in value:
                raise SpecError(file, f"{key}.type", "missing required key", allowed=", ".join(tags))
            tag = value["type"]
            if not isinstance(tag, str) or tag not in tags:
                raise SpecError(file, f"{key}.type",
                                f"unknown value {excerpt(tag)}", allowed=", ".join(tags))
            return build(tags[tag], value, key, file)
        for arg in others:
            try:
                return _convert(value, arg, key, file)
            except SpecError as error:
                if len(others) == 1 and not error.problem.startswith("expected "):
                    raise               # the right type, a wrong value: say what is wrong
                continue
        raise SpecError(file, key, f"expected {type_name(hint)}, got {excerpt(value)}")
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed or isinstance(value, bool):
            raise SpecError(file, key, f"unknown value {excerpt(value)}",
                            allowed=", ".join(str(a) for a in allowed))
        return value
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list):
            raise SpecError(file, key, f"expected a list, got {excerpt(value)}")
        return tuple(_convert(item, item_hint, f"{key}[{i}]", file) for i, item in enumerate(value))
    if dataclasses.is_dataclass(hint):
        return build(hint, value, key, file)
    if hint is bool:
        if not isinstance(value, bool):
            raise SpecError(file, key, f"expected true/false, got {excerpt(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(file, key, f"expected an integer, got {excerpt(value)}")
        if abs(value) > MAX_INT:
            raise SpecError(file, key, f"{excerpt(value)} is out of range",
                            allowed=f"integers of at most {MAX_INT} (2**63-1) either side of 0")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or (isinstance(value, int) and abs(value) > MAX_INT) or not math.isfinite(value):
            raise SpecError(file, key, f"expected a number, got {excerpt(value)}",
                            allowed="finite numbers" if isinstance(value, (int, float)) else None)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise SpecError(file, key, f"expected a string, got {excerpt(value)}")
        # (the name has its own, narrower pattern: Spec.check)
        if key != "name" and (len(value) > MAX_STRING or _CONTROL.search(value)):
            raise SpecError(file, key, f"{excerpt(value, 60)} is not a usable name or path",
                            allowed=f"at most {MAX_STRING} characters, no control characters")
        return value
    raise TypeError(f"spec field type {hint!r} is not supported")  # programming error


def build(cls, mapping, key: str, file):
    """``cls`` (a dataclass) from ``mapping`` read at key path ``key`` of ``file``."""
    if not isinstance(mapping, dict):
        raise SpecError(file, key or "(top level)", f"expected a mapping, got {excerpt(mapping)}")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
    by_key = {yaml_key(f): f for f in fields}
    for name in mapping:
        if name not in by_key:
            problem = f"unknown key for {cls.what}" if hasattr(cls, "what") else "unknown key"
            raise SpecError(file, _join(key, key_text(name)), problem, allowed=", ".join(by_key))
    values = {}
    for name, f in by_key.items():
        if name in mapping:
            values[f.name] = _convert(mapping[name], hints[f.name], _join(key, name), file)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SpecError(file, _join(key, name), "missing required key")
    try:
        obj = cls(**values)
    except FieldError as error:          # the class checks itself: name the key in the file
        raise SpecError(file, _join(key, error.key), error.problem,
                        allowed=error.allowed) from None
    if hasattr(obj, "check"):
        obj.check(key, file)
    return obj


def key_text(name) -> str:
    """A mapping key from a file as an error names it: as written when it is a short word,
    else quoted and cut short (:func:`excerpt`)."""
    if isinstance(name, str) and _KEY.fullmatch(name):
        return name
    return excerpt(name, 40)


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name

class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing a document nested more than :data:`MAX_YAML_DEPTH` levels
    deep (the composer recurses per level)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_YAML_DEPTH} levels deep",
                    self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _expanded_nodes(root) -> int | None:
    """Nodes of a composed document with every alias expanded, counted in time linear in the
    nodes written (an alias is one shared node), at most ``MAX_YAML_NODES + 1``; ``None`` when
    an alias refers to a node that contains it."""
    sizes, open_nodes, stack = {}, set(), [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in _children(node)),
                                  MAX_YAML_NODES + 1)
        elif id(node) not in sizes:
            open_nodes.add(id(node))
            stack.append((node, True))
            for child in _children(node):
                if id(child) in open_nodes:
                    return None
                stack.append((child, False))
    return sizes[id(root)]


def read_yaml(path: Path, *, what: str = "spec", quote_problems: bool = True):
    """The YAML document in file ``path`` (a ``what`` file), read with PyYAML's safe loader.

    Refused, each in one :class:`SpecError` line naming the file, before any object is built:
    a file over :data:`MAX_YAML_BYTES`, not UTF-8, invalid YAML, nested deeper than
    :data:`MAX_YAML_DEPTH`, an alias that contains itself, or aliases that expand to more than
    :data:`MAX_YAML_NODES` nodes (a "billion laughs" file of a few hundred bytes). With
    ``quote_problems`` false, a YAML error gives its line and column but not PyYAML's words,
    which may quote the file (for a file that may be no ``what`` file at all)."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise SpecError(path, None, f"is {size} bytes, more than a {what} file may have",
                            allowed=f"at most {MAX_YAML_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(path, None, f"cannot read {what} file: "
                        f"{error.strerror or type(error).__name__}") from None
    except UnicodeDecodeError:
        raise SpecError(path, None, f"not a {what} file (UTF-8 text expected)") from None
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        nodes = _expanded_nodes(node)
        if nodes is None or nodes > MAX_YAML_NODES:
            if nodes is None:
                raise SpecError(path, None, "invalid YAML: an alias refers to a node that "
                                "contains it")
            raise SpecError(path, None, f"invalid YAML: its aliases expand to more than "
                            f"{MAX_YAML_NODES} nodes",
                            allowed=f"at most {MAX_YAML_NODES} nodes with aliases expanded")
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if not quote_problems:
            raise SpecError(path, None, f"not a {what} file (invalid YAML{where})") from None
        problem = excerpt(getattr(error, "problem", None) or "cannot parse", 100).strip("'\"")
        raise SpecError(path, None, f"invalid YAML{where}: {problem}") from None
    except (ValueError, OverflowError, RecursionError) as error:
        # PyYAML's constructors: an integer of over 4300 digits, a date like 2024-13-45
        problem = str(error).split(";")[0][:100] if quote_problems else "a value"
        raise SpecError(path, None, f"invalid YAML: {problem}") from None
    finally:
        loader.dispose()


def is_file(path: Path) -> bool:
    """Whether ``path`` names a file (False, not an error, for a name too long for the file
    system or holding a NUL)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False
