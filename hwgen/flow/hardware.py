"""The hardware step: the IR as built (``hardware.ir.npz``), auto-folded when the spec sets a
throughput target (explicit folding wins) and its FIFOs sized by simulation (or by the fixed
``hardware.fifo_depth`` rule); ``meta["fifo_sizing"]`` says how.

Its key is the IR's, hwgen's version, the hardware options (less the placer and its seed,
the bitstream's alone), the target in cycles per frame, and the sources of the generators
(:func:`generator_digest`): a change to a generator makes it again.
"""
import dataclasses
import hashlib
from pathlib import Path

from ..errors import HwgenError
from .cache import Product, key_digest
from .irfile import read_ir

__all__ = ["GENERATORS", "generator_digest", "hardware_key", "target_cycles", "hardware"]

#: What generates, folds, simulates and builds the hardware: hwgen's modules and folders
#: (beside the shipped rtl_templates/ and sim/) whose sources key the hardware IR, the
#: verification and the bitstream, so that an edit to any of them, released or not, makes
#: them stale.
GENERATORS = ("hw", "fpga", "cim", "golden", "ir", "estimate.py", "fifo_sizing.py",
              "harness.py", "cosim.py", "verify.py", "toolchain.py")


def generator_digest() -> str:
    """Digest of the sources named by :data:`GENERATORS` and the shipped ``rtl_templates``
    and ``sim`` folders."""
    from ..resources import data_dir
    package = Path(__file__).resolve().parent.parent
    files = []
    for name in GENERATORS:
        path = package / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    for name in ("rtl_templates", "sim"):
        folder = data_dir(name)
        files += sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".pyc"
                        and "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def hardware_key(workspace) -> str:
    """The key of the hardware the spec asks for, before the throughput target: the IR's key,
    hwgen's version and sources, and the hardware options that shape the RTL."""
    from .. import __version__
    hardware = dataclasses.asdict(workspace.spec.hardware)
    for key in ("placer", "seed"):      # the bitstream's alone (see the build step)
        hardware.pop(key)
    return key_digest({"ir": workspace.ir_key, "hwgen": __version__,
                       "generators": generator_digest(), "hardware": hardware})


def target_cycles(spec, clock_hz: float | None) -> int | None:
    """The cycles per frame the spec's throughput target asks for, if it sets one
    (``hardware.target_fps`` needs the design clock, ``clock_hz``)."""
    hardware = spec.hardware
    if hardware.target_cycles is not None:
        return hardware.target_cycles
    if hardware.target_fps is not None:
        from ..ir.folding import target_from_fps
        if clock_hz is None:
            raise HwgenError("hardware.target_fps needs the board's clock")
        return target_from_fps(hardware.target_fps, clock_hz)
    return None


def hardware(workspace, graph, *, clock_hz: float | None = None, force: bool = False):
    """The IR as built from ``graph``: auto-folded when the spec sets a target, FIFOs sized.

    ``graph`` is the exported IR, or a function that gives it (called only when the hardware
    IR must be made). ``clock_hz`` turns ``hardware.target_fps`` into cycles per frame (the
    board's clock).
    """
    spec = workspace.spec
    target = target_cycles(spec, clock_hz)
    key = key_digest({"hw": workspace.hardware_key, "target_cycles": target})

    def make(stage):
        built = graph() if callable(graph) else graph
        if target is not None:
            from ..ir.folding import auto_fold
            built = auto_fold(built, target_cycles=target,
                              fixed=tuple(built.meta.get("fixed_folding", ())))
            workspace.say(f"auto-folded for {target} cycles/frame: expected "
                          f"{built.expected_cycles()} cycles/frame")
        if spec.hardware.size_fifos:
            from ..fifo_sizing import size_fifos
            sizing = size_fifos(built, build_root=workspace.root / "sim", seed=spec.seed,
                                progress=workspace.say)
            built = sizing.graph
            summary = {"depths": list(sizing.depths), "peaks": list(sizing.peaks),
                       "seconds": sizing.seconds, "frames": sizing.frames,
                       "sim_cycles": sizing.sim_cycles,
                       "reference_cycles_per_frame": sizing.reference_cycles}
        else:
            from ..hw.network import default_fifo_depths
            built = built.with_fifo_depths(default_fifo_depths(built, spec.hardware.fifo_depth))
            summary = {"depths": list(built.fifo_depths), "seconds": 0.0, "rule": "fifo_depth"}
        built = dataclasses.replace(built, meta={**built.meta, "hardware_key": key,
                                                 "fifo_sizing": summary})
        from ..ir import save_ir
        save_ir(built, stage())
        return built

    product = Product("hardware IR", workspace.hardware_ir_file, read_ir("hardware_key"),
                      detail=lambda saved: f" (FIFO depths {list(saved.fifo_depths)})")
    return workspace.keep("hardware", product, key, make, force=force).value
