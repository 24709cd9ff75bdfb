"""Fast co-simulation: an HDL-side harness compiled with the block into one Verilator binary.

:func:`run_stream_test` in :mod:`hwgen.cosim` drives a stream from Python every cycle (cocotb,
~10k-60k cycles/s): right for blocks and a few thousand vectors. For whole networks over whole
test sets the stimulus, the LFSR idle/backpressure, the comparison and the cycle counter move
into a SystemVerilog harness (``rtl_templates/stream_harness.sv.j2``): Python writes the input
and expected words to files, starts the binary, and reads back what it saw. The harness uses
the same verdicts and returns the same :class:`~hwgen.cosim.StreamRun` as the cocotb
testbench, so a caller can use either.

Each design is built once (``verilator --binary``) into a directory named by a hash of its
Verilog and the harness; reruns with new vectors reuse the binary.
"""
import contextlib
import hashlib
import subprocess
import time
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib import wiring

from .cosim import (StreamRun, default_build_root, default_timeout, design_lock, emit_verilog,
                    fresh_dir)
from .errors import HwgenError
from .resources import data_dir
from .toolchain import verilator_env

__all__ = ["run_harness", "render_harness", "PROBABILITY_ONE"]

#: Probabilities are passed to the harness in units of 1/65536.
PROBABILITY_ONE = 1 << 16

_HARNESS = "harness"
_TOP = "top"
_VERILATOR_ARGS = ["--binary", "-j", "2", "-O3", "--x-assign", "fast", "--x-initial", "fast",
                   "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT", "-Wno-CMPCONST",
                   "-Wno-UNSIGNED", "-Wno-LATCH", "-Wno-MULTIDRIVEN", "-Wno-fatal",
                   "-CFLAGS", "-O2"]


def _stream_width(component, port: str) -> int:
    member = component.signature.members[port]
    return Shape.cast(member.signature.members["payload"].shape).width


def render_harness(*, in_width: int, out_width: int, levels_width: int = 0) -> str:
    """SystemVerilog text of the harness around a block ``top`` with these payload widths
    (and, with ``levels_width``, a ``levels`` output port reported at the end)."""
    import jinja2
    template_dir = data_dir("rtl_templates")
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.get_template("stream_harness.sv.j2").render(
        harness=_HARNESS, top=_TOP, in_width=in_width, out_width=out_width,
        levels_width=levels_width)


@contextlib.contextmanager
def _built(verilog_text: str, harness_text: str, build_root: Path):
    """The harness binary, built if need be; its folder is held (:func:`hwgen.cosim.design_lock`)
    while in use."""
    digest = hashlib.sha256((verilog_text + harness_text + " ".join(_VERILATOR_ARGS))
                            .encode()).hexdigest()[:16]
    with design_lock(Path(build_root) / f"harness-{digest}") as build_dir:
        yield _build(verilog_text, harness_text, build_dir, digest)


def _build(verilog_text: str, harness_text: str, build_dir: Path, digest: str) -> Path:
    binary = build_dir / "obj" / _HARNESS
    if (build_dir / "built.ok").exists() and binary.exists():
        return binary
    fresh_dir(build_dir)                    # no stamp: an interrupted build, start clean
    (build_dir / f"{_TOP}.v").write_text(verilog_text)
    (build_dir / f"{_HARNESS}.sv").write_text(harness_text)
    env = verilator_env()
    command = ["verilator", *_VERILATOR_ARGS, "--top-module", _HARNESS, "-Mdir", "obj",
               "-o", _HARNESS, f"{_HARNESS}.sv", f"{_TOP}.v"]
    log = build_dir / "build.log"
    with log.open("w") as log_file:
        result = subprocess.run(command, cwd=build_dir, env=env, stdout=log_file,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0 or not binary.exists():
        raise HwgenError(f"Verilator build of the harness failed: see {log}")
    (build_dir / "built.ok").write_text(digest)
    return binary


def _write_words(path: Path, words, width: int):
    digits = max(1, (width + 3) // 4)
    path.write_text("".join(f"{int(word):0{digits}x}\n" for word in words))


def _probability(value: float, name: str) -> int:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), not {value!r}")
    return round(value * PROBABILITY_ONE)


def run_harness(component: wiring.Component, inputs, expected, *, idle: float = 0.0,
                backpressure: float = 0.0, seed: int = 1, build_root=None, name: str = "stream",
                timeout_cycles: int | None = None, stop_on_mismatch: bool = True,
                frame_interval: tuple[int, int] | None = None, limits: int | None = None) -> StreamRun:
    """Run ``component`` on Verilator inside the HDL-side harness; arguments as
    :func:`hwgen.cosim.run_stream_test`.

    ``frame_interval = (words, cycles)`` throttles the source to one frame of ``words`` input
    transfers every ``cycles`` cycles (at most). A component with ``levels`` and ``limits``
    ports (see :class:`hwgen.hw.network.Network` ``monitor``) gets ``limits`` (all ones if not
    given) and has its final ``levels`` in ``StreamRun.levels``.

    ``idle`` and ``backpressure`` are rounded to multiples of 1/65536. The LFSRs are seeded from
    ``seed``, so a run is reproducible (but not the same sequence as the cocotb testbench's).
    """
    idle_p = _probability(idle, "idle")
    backpressure_p = _probability(backpressure, "backpressure")
    in_width, out_width = _stream_width(component, "i"), _stream_width(component, "o")
    members = component.signature.members
    levels = members["levels"] if "levels" in members else None
    levels_width = Shape.cast(levels.shape).width if levels is not None else 0
    build_root = Path(build_root if build_root is not None else default_build_root()).resolve()
    options = [f"+idle={idle_p}", f"+backpressure={backpressure_p}",
               f"+seed={seed & 0xFFFFFFFF}", f"+stop_on_mismatch={int(stop_on_mismatch)}"]
    if frame_interval is not None:
        words, cycles = frame_interval
        if words < 1 or cycles < 0:
            raise ValueError(f"frame_interval must be (words >= 1, cycles >= 0), "
                             f"not {frame_interval!r}")
        options += [f"+frame_words={int(words)}", f"+frame_interval={int(cycles)}"]
    if levels_width:
        options.append(f"+limits={(1 << levels_width) - 1 if limits is None else int(limits):x}")
    if timeout_cycles is None:
        timeout_cycles = default_timeout(len(inputs), len(expected), idle, backpressure)
    options.append(f"+timeout={timeout_cycles}")
    harness = render_harness(in_width=in_width, out_width=out_width, levels_width=levels_width)
    with _built(emit_verilog(component, name=_TOP), harness, build_root) as binary:
        run_dir = fresh_dir(binary.parent.parent / "runs" / name)
        _write_words(run_dir / "inputs.hex", inputs, in_width)
        _write_words(run_dir / "expected.hex", expected, out_width)
        observed = run_dir / "observed.txt"
        command = [str(binary), f"+inputs={run_dir / 'inputs.hex'}",
                   f"+expected={run_dir / 'expected.hex'}", f"+observed={observed}", *options]
        log = run_dir / "sim.log"
        started = time.perf_counter()
        with log.open("w") as log_file:
            result = subprocess.run(command, cwd=run_dir, stdout=log_file,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        return _parse_observed(observed, expected, wall, result.returncode, log)


def _parse_observed(observed: Path, expected, wall: float, returncode: int, log: Path) -> StreamRun:
    try:
        lines = observed.read_text().splitlines()
    except OSError:
        lines = []
    if not lines or not lines[-1].startswith("end "):
        raise HwgenError(f"harness run ended without a verdict (exit status {returncode}): "
                         f"see {log}")
    verdict, cycles, outputs_seen, mismatches, first, inputs_taken = lines[-1].split()[1:]
    cycles, mismatches, first = int(cycles), int(mismatches), int(first)
    outputs, stamps, levels = [], [], None
    for line in lines[:-1]:
        stamp, word = line.split()
        if stamp == "levels":
            levels = int(word, 16)
            continue
        stamps.append(int(stamp))
        outputs.append(int(word, 16))
    if verdict == "ok":
        message = "ok"
    elif verdict == "timeout":
        message = (f"timeout after {cycles} cycles: {len(outputs)} of {len(expected)} outputs, "
                   f"{inputs_taken} inputs accepted")
    elif verdict == "unexpected":
        message = (f"unexpected output #{len(outputs) - 1} = {outputs[-1]:#x} after all "
                   f"{len(expected)} expected")
    else:
        detail = (f"output #{first} at cycle {stamps[first]}: got {outputs[first]:#x}, "
                  f"expected {int(expected[first]):#x}")
        message = detail if mismatches == 1 else f"{mismatches} mismatches, first {detail}"
    return StreamRun(passed=verdict == "ok", mismatches=mismatches, outputs=outputs,
                     output_cycles=stamps, cycles=cycles, wall_s=wall, message=message,
                     levels=levels)
