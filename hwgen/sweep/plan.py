"""A sweep file (``hwgen sweep SWEEP.yaml``): a base spec, axes over its keys, how points are
drawn, and what each point runs.

    base: ../digits_mlp.yaml          # the spec every point starts from (relative to this file)
    axes:                             # spec keys by their path, each with its values
      train.epochs: [5, 10]
      model.norm: [batchnorm, bnfree]
      seed: [0, 1]
    points: grid                      # every combination; or {random: N, seed: S}
    steps: sim                        # per point: train, export, sim (co-simulate) or build
    metrics: [golden_accuracy, rtl_accuracy, cim_energy_pj]   # the table's (default: all)

A point is the base spec's YAML with each axis key set to one of its values; it is checked as
a spec file would be, and one that is no valid spec is reported with its one-line error and
skipped. Its name is a digest of its values, so the same point in a later run (a resumed or a
widened sweep) is found again.
"""
import copy
import dataclasses
import hashlib
import json
import math
import random
from pathlib import Path

from ..errors import SpecError
from ..spec import read_yaml, spec_from_mapping

__all__ = ["Sweep", "Point", "load_sweep", "STEPS", "METRICS"]

#: What a point may run, last step first named: ``sim`` co-simulates (no bitstream).
STEPS = ("train", "export", "sim", "build")
#: The metrics a point records (those its steps reach), in the table's order.
METRICS = ("float_accuracy", "bnn_accuracy", "golden_accuracy", "rtl_accuracy",
           "rtl_golden_mismatches", "expected_cycles", "measured_cycles", "estimated_luts",
           "estimated_ffs", "estimated_brams", "estimated_dsps", "luts", "ffs", "brams", "dsps",
           "fmax_mhz", "inferences_per_s",
           "cim_energy_pj", "cim_latency_ns", "seconds")
#: Most points a sweep's grid may have (a crafted file cannot exhaust memory listing them).
MAX_POINTS = 100_000
#: Keys of a sweep file.
_KEYS = ("name", "base", "axes", "points", "steps", "board", "metrics")


@dataclasses.dataclass(frozen=True)
class Point:
    """One point: its axis values (key path -> value, in the sweep's axis order)."""
    values: dict

    @property
    def name(self) -> str:
        """A digest of the values: the point's folder and its key in the results."""
        text = json.dumps(self.values, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def mapping(self, base: dict) -> dict:
        """The base spec's YAML with this point's values set."""
        mapping = copy.deepcopy(base)
        for path, value in self.values.items():
            _set(mapping, path, value)
        return mapping


@dataclasses.dataclass(frozen=True)
class Sweep:
    name: str
    file: Path
    base: Path
    axes: dict
    points: list
    steps: str = "sim"
    board: str | None = None
    #: The metrics the table keeps (of :data:`hwgen.sweep.METRICS`); None: all.
    metrics: tuple | None = None

    def base_mapping(self) -> dict:
        return read_yaml(self.base)

    def base_values(self) -> dict:
        """The base spec's value of each axis it sets (an axis whose key the base leaves to
        its default is absent): the point the sweep varies around, which the report marks."""
        mapping, values = self.base_mapping(), {}
        for key in self.axes:
            try:
                values[key] = _get(mapping, key)
            except KeyError:
                pass
        return values

    def spec(self, point: Point):
        """The point's spec (SpecError in one line naming the base file and the key)."""
        return spec_from_mapping(point.mapping(self.base_mapping()), self.base)


def _set(mapping: dict, path: str, value):
    """``mapping`` with key ``path`` (``a.b.c``; ``a.b[2].c`` into a list) set to ``value``."""
    parts = path.split(".")
    node = mapping
    for index, part in enumerate(parts):
        key, position = part, None
        if part.endswith("]") and "[" in part:
            key, position = part[:-1].split("[", 1)
            position = int(position)
        last = index == len(parts) - 1
        if position is None:
            if last:
                node[key] = value
                return
            node = node.setdefault(key, {})
        else:
            items = node.get(key)
            if not isinstance(items, list) or not -len(items) <= position < len(items):
                raise KeyError(path)
            if last:
                items[position] = value
                return
            node = items[position]
        if not isinstance(node, dict):
            raise KeyError(path)


def _get(mapping: dict, path: str):
    """The value at key ``path`` of ``mapping`` (``a.b[2].c``); KeyError where it has none."""
    node = mapping
    for part in path.split("."):
        key, position = part, None
        if part.endswith("]") and "[" in part:
            key, position = part[:-1].split("[", 1)
            position = int(position)
        if not isinstance(node, dict) or key not in node:
            raise KeyError(path)
        node = node[key]
        if position is not None:
            if not isinstance(node, list) or not -len(node) <= position < len(node):
                raise KeyError(path)
            node = node[position]
    return node


def _combination(axes: dict, index: int) -> dict:
    """Point ``index`` of the grid of ``axes`` (the last axis varying fastest)."""
    values = {}
    for key in reversed(list(axes)):
        index, position = divmod(index, len(axes[key]))
        values[key] = axes[key][position]
    return {key: values[key] for key in axes}


def load_sweep(path) -> Sweep:
    """Read and check a sweep file; SpecError in one line naming the file and key."""
    path = Path(path)
    mapping = read_yaml(path, what="sweep")
    if not isinstance(mapping, dict):
        raise SpecError(path, None, "must be a mapping of sweep keys",
                        allowed=", ".join(_KEYS))
    unknown = sorted(set(mapping) - set(_KEYS))
    if unknown:
        raise SpecError(path, unknown[0], "unknown key", allowed=", ".join(_KEYS))
    if not isinstance(mapping.get("base"), str):
        raise SpecError(path, "base", "must name the base spec file")
    base = (path.parent / mapping["base"]).resolve()
    if not base.is_file():
        raise SpecError(path, "base", f"no such spec file: {base}")
    axes = mapping.get("axes")
    if not isinstance(axes, dict) or not axes:
        raise SpecError(path, "axes", "must map spec keys to lists of values")
    for key, values in axes.items():
        if not isinstance(key, str) or not key:
            raise SpecError(path, "axes", f"a key must be a spec key's path, not {key!r}")
        if not isinstance(values, list) or not values:
            raise SpecError(path, f"axes.{key}", "must be a list of values")
    steps = mapping.get("steps", "sim")
    if steps not in STEPS:
        raise SpecError(path, "steps", f"unknown step {steps!r}", allowed=", ".join(STEPS))
    name = mapping.get("name", path.stem)
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise SpecError(path, "name", f"must be a plain folder name, not {name!r}")
    size = math.prod(len(values) for values in axes.values())
    drawn = mapping.get("points", "grid")
    if drawn == "grid":
        if size > MAX_POINTS:
            raise SpecError(path, "axes", f"make {size:,} points, more than a sweep runs",
                            allowed=f"at most {MAX_POINTS:,} (points: {{random: N}} draws N)")
        indices = range(size)
    else:
        if not isinstance(drawn, dict) or set(drawn) - {"random", "seed"} or \
                not isinstance(drawn.get("random"), int) or \
                not 1 <= drawn["random"] <= MAX_POINTS:
            raise SpecError(path, "points", f"must be grid or {{random: N, seed: S}} (N at most "
                            f"{MAX_POINTS:,}), not {drawn!r}", allowed="grid, {random: N}")
        indices = random.Random(drawn.get("seed", 0)).sample(range(size),
                                                             min(drawn["random"], size))
    combos = [_combination(axes, index) for index in indices]
    board = mapping.get("board")
    if board is not None and not isinstance(board, str):
        raise SpecError(path, "board", "must name a board")
    metrics = mapping.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, list) or not metrics:
            raise SpecError(path, "metrics", "must be a list of metrics",
                            allowed=", ".join(METRICS))
        for metric in metrics:
            if metric not in METRICS:
                raise SpecError(path, "metrics", f"unknown metric {metric!r}",
                                allowed=", ".join(METRICS))
        metrics = tuple(metrics)
    return Sweep(name=name, file=path.resolve(), base=base, axes=axes,
                 points=[Point(values) for values in combos], steps=steps, board=board,
                 metrics=metrics)
