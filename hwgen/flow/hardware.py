"""The hardware step: the IR as built (``hardware.ir.npz``), auto-folded when the spec sets a
throughput target (explicit folding wins) and its FIFOs sized by simulation (or by the fixed
``hardware.fifo_depth`` rule); ``meta["fifo_sizing"]`` says how.

Its key is the IR's, hwgen's version, the hardware options (less the placer and its seed,
the bitstream's alone), the target in cycles per frame, and the sources of every module this
one can reach (:mod:`.sources`): a change to a generator makes it again.
"""
import dataclasses

from ..errors import HwgenError
from ..target import DEFAULT_TARGET, Resources, Target
from .cache import Product, key_digest
from .irfile import read_ir
from .sources import source_digest

__all__ = ["hardware_key", "target_cycles", "device_budget", "hardware"]


def hardware_key(workspace) -> str:
    """The key of the hardware the spec asks for, before the throughput target: the IR's key,
    hwgen's version and sources, and the hardware options that shape the RTL."""
    from .. import __version__
    hardware = dataclasses.asdict(workspace.spec.hardware)
    for key in ("placer", "seed"):      # the bitstream's alone (see the build step)
        hardware.pop(key)
    return key_digest({"ir": workspace.ir_key, "hwgen": __version__,
                       "sources": source_digest([__name__]), "hardware": hardware})


def target_cycles(spec, clock_hz: float | None) -> int | None:
    """The cycles per frame the spec's throughput target asks for, if it sets one
    (``hardware.target_fps`` needs the design clock, ``clock_hz``)."""
    hardware = spec.hardware
    if hardware.target_cycles is not None:
        return hardware.target_cycles
    if hardware.target_fps is not None:
        from ..passes.fold import target_from_fps
        if clock_hz is None:
            raise HwgenError("hardware.target_fps needs the board's clock")
        return target_from_fps(hardware.target_fps, clock_hz)
    return None


def device_budget(spec, target: Target, device: str | None) -> Resources | None:
    """What auto-folding may take of part ``device`` (the board's; None: no budget):
    its capacity times ``hardware.fit_margin``."""
    if device is None:
        return None
    capacity, margin = target.capacity(device), spec.hardware.fit_margin
    return Resources(*(int(getattr(capacity, name) * margin)
                       for name in ("luts", "ffs", "brams", "dsps")))


def hardware(workspace, graph, *, clock_hz: float | None = None,
             target: Target = DEFAULT_TARGET, device: str | None = None, force: bool = False):
    """The IR as built from ``graph``: auto-folded when the spec sets a target (or asks for
    the fastest folding that fits), FIFOs sized.

    ``graph`` is the exported IR, or a function that gives it (called only when the hardware
    IR must be made). ``clock_hz`` turns ``hardware.target_fps`` into cycles per frame (the
    board's clock). ``target`` is the FPGA family the blocks are built for (the board's): the
    auto-folder prices them on it and FIFO sizing simulates them as built for it. ``device``,
    the board's part, is what the folding must fit (:func:`device_budget`).
    """
    spec = workspace.spec
    cycles = target_cycles(spec, clock_hz)
    fastest = spec.hardware.fit == "fastest"
    if fastest and device is None:
        raise HwgenError("hardware.fit: fastest needs a board (--board, or the spec's board): "
                         "the fastest folding that fits its device")
    budget = device_budget(spec, target, device)
    folds = cycles is not None or fastest
    # The device shapes the hardware only through the folding that fits it.
    key = key_digest({"hw": workspace.hardware_key, "target_cycles": cycles,
                      "family": target.family, **({"device": device} if folds else {})})

    def make(stage):
        built = graph() if callable(graph) else graph
        if folds:
            from ..passes.fold import auto_fold
            fixed = tuple(built.meta.get("fixed_folding", ()))
            if spec.hardware.folding == "free":
                built, fixed = _unpinned(built), ()
            built = auto_fold(built, target_cycles=cycles, target=target, fixed=fixed,
                              budget=budget, device=device)
            goal = (f"for {cycles} cycles/frame" if cycles is not None
                    else f"for the fewest cycles/frame that fit {device}")
            workspace.say(f"auto-folded {goal}: expected {built.expected_cycles()} "
                          f"cycles/frame{_fit_note(built, target, device, budget)}")
        if spec.hardware.size_fifos:
            from ..passes.fifo_sizing import size_fifos
            sizing = size_fifos(built, build_root=workspace.root / "sim", seed=spec.seed,
                                progress=workspace.say, target=target)
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


def _unpinned(graph):
    """``graph`` with every layer's weights left to the fit (``ram_style`` auto where the
    spec gives another): ``hardware.folding: free``."""
    return graph.with_layers({layer.name: {"ram_style": "auto"} for layer in graph.layers
                              if getattr(layer, "ram_style", "auto") != "auto"})


def _fit_note(graph, target: Target, device: str | None, budget: Resources | None) -> str:
    """What the folded network is estimated to take of ``device`` (FIFOs at the default
    depths, before sizing; the board top's demo ROM counted), against ``budget``."""
    if device is None:
        return ""
    from ..passes.fold import board_reserve, estimate_build
    needed = estimate_build(graph, target) + board_reserve(target, device)
    units = target.units
    figures = ", ".join(f"{getattr(needed, name):,}/{getattr(budget, name):,} {units[name]}"
                        for name in ("luts", "ffs", "brams", "dsps"))
    return (f"; estimated {figures} of {device}'s budget (FIFOs before sizing; the "
            f"estimates' error: bench/estimate_calibration.py, bench/kws.py)")

