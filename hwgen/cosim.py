"""Co-simulation glue: Amaranth component -> Verilog -> Verilator -> a cocotb stream testbench.

The testbench (``sim/tb_stream.py``) is generic over any block with one input stream ``i`` and
one output stream ``o``: it drives ``i`` with the given words, inserting random idle cycles,
accepts ``o`` under random backpressure, compares every output word with its expectation and
fails on the first mismatch. Words are the raw payload bits (``Const.cast(layout.const(...))``),
so the comparison is bit for bit.

Each distinct design is built once into its own directory under ``build_root`` (named by a hash
of its Verilog); reruns reuse the Verilator binary. A process builds and runs a design holding
its lock (:func:`design_lock`), so parallel processes (pytest-xdist workers, two builds) that
meet the same design wait for each other instead of building over each other.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import weakref
from dataclasses import dataclass
from pathlib import Path

from .errors import HwgenError
from .resources import data_dir
from .toolchain import amaranth_tool_env, verilator_env

__all__ = ["StreamRun", "emit_verilog", "verilog_of", "check_select", "run_stream_test",
           "run_testbench", "default_build_root",
           "default_timeout", "fresh_dir", "design_lock"]

_TOP = "top"

# Amaranth's Verilog trips these width/style lints; they are not errors in generated code.
LINT_ARGS = ["-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT", "-Wno-CMPCONST",
             "-Wno-UNSIGNED", "-Wno-LATCH", "-Wno-MULTIDRIVEN", "-Wno-fatal"]
# cocotb's --public-flat-rw keeps every signal, so a wide design's clocked logic becomes one
# C++ function of thousands of statements, which the C++ compiler takes minutes over:
# --output-split-cfuncs cuts such functions into pieces it compiles in seconds (at 2,000
# statements: smaller pieces split --public-flat-rw's many symbol-table functions into more
# files, each a compiler run of its own, and small designs build slower).
_VERILATOR_ARGS = [*LINT_ARGS, "-O3", "--x-assign", "fast", "--x-initial", "fast",
                   "--output-split-cfuncs", "2000"]
# A testbench's design runs a few thousand cycles under cocotb, whose Python sets the pace:
# its C++ at -O1 rather than Verilator's -Os builds much faster and runs the test as fast.
_MAKE_VARS = "OPT_FAST=-O1"


def default_build_root() -> Path:
    return Path(os.environ.get("HWGEN_SIM_BUILD", Path.cwd() / "build" / "sim"))


def emit_verilog(component, *, name: str = _TOP) -> str:
    """Verilog text of ``component`` (ports ``clk``, ``rst`` and its interface)."""
    from amaranth.back import verilog
    env = amaranth_tool_env()
    saved = os.environ.get("YOSYS")
    os.environ["YOSYS"] = env["YOSYS"]
    try:
        return verilog.convert(component, name=name, emit_src=False)
    finally:
        if saved is None:
            os.environ.pop("YOSYS", None)
        else:
            os.environ["YOSYS"] = saved


_EMITTED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def verilog_of(component) -> str:
    """``component``'s Verilog (top ``top``), emitted once per component object: emitting a
    network's takes seconds, a short run a fraction of one (FIFO sizing runs one network a
    hundred times; a :class:`~hwgen.lib.bank.Bank` serves every shape of a test file)."""
    text = _EMITTED.get(component)
    if text is None:
        text = _EMITTED[component] = emit_verilog(component, name=_TOP)
    return text


def check_select(component, select) -> int | None:
    """``select`` checked against ``component``'s ``select`` port (a bank's): needed exactly
    when there is one, and within its width."""
    from amaranth.hdl import Shape
    members = component.signature.members
    if ("select" in members) != (select is not None):
        raise ValueError("select is needed exactly when the component has a select port")
    if select is None:
        return None
    width = Shape.cast(members["select"].shape).width
    if not 0 <= select < 1 << width:
        raise ValueError(f"select must fit {width} bits, not {select!r}")
    return int(select)


@dataclass(frozen=True)
class StreamRun:
    """What a stream co-simulation saw."""
    passed: bool
    mismatches: int          # outputs that differed from their expectation
    outputs: list            # output words received, in order
    output_cycles: list      # cycle of each output transfer
    cycles: int              # cycles simulated
    wall_s: float            # seconds the simulator ran
    message: str             # the testbench's verdict line
    levels: int | None = None  # a monitored block's final ``levels`` port (harness only)
    #: With tap ports (harness only): per tap, the ``(cycles, words)`` of its transfers.
    taps: tuple | None = None

    @property
    def cycles_per_s(self) -> float:
        return self.cycles / self.wall_s if self.wall_s > 0 else float("nan")

    def steady_interval(self, skip: int = 1) -> float:
        """Mean cycles between output transfers after the first ``skip`` (pipeline fill)."""
        stamps = self.output_cycles[skip:]
        if len(stamps) < 2:
            raise ValueError("too few outputs to measure an interval")
        return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def default_timeout(inputs: int, outputs: int, idle: float, backpressure: float) -> int:
    """A cycle limit no correct block reaches: generous for any fold of these transfers."""
    slack = 1.0 / max(1e-3, (1 - idle) * (1 - backpressure))
    return int(1000 + 64 * slack * (inputs + outputs) * 4)


def _prepare_environment():
    env = verilator_env()
    os.environ["PATH"] = env["PATH"]
    os.environ["MAKEFLAGS"] = f"{env['MAKEFLAGS']} {_MAKE_VARS}"


def fresh_dir(path: Path) -> Path:
    """``path`` as a new empty directory (what an earlier or interrupted run left is removed)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def design_lock(build_dir: Path):
    """Hold ``build_dir`` (one design's build and its runs) for this process alone while the
    block runs: another process taking the same lock waits. The lock is the file
    ``<build_dir>.lock`` beside it (the folder itself may be wiped and rebuilt)."""
    build_dir = Path(build_dir)
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(build_dir.parent / f"{build_dir.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield build_dir
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _built(verilog_text: str, build_root: Path):
    """The design's build folder, built if need be, held (:func:`design_lock`) while in use;
    keyed by the Verilog and the Verilator arguments it is built with."""
    digest = hashlib.sha256("\0".join([verilog_text, *_VERILATOR_ARGS, _MAKE_VARS]).encode())
    digest = digest.hexdigest()[:16]
    with design_lock(Path(build_root) / digest) as build_dir:
        _build(verilog_text, build_dir, digest)
        yield build_dir


def _build(verilog_text: str, build_dir: Path, digest: str):
    from cocotb_tools.runner import get_runner
    stamp = build_dir / "built.ok"
    if stamp.exists():
        return
    fresh_dir(build_dir)                    # no stamp: an interrupted build, start clean
    source = build_dir / f"{_TOP}.v"
    source.write_text(verilog_text)
    runner = get_runner("verilator")
    try:
        runner.build(sources=[source], hdl_toplevel=_TOP, build_dir=build_dir,
                     build_args=_VERILATOR_ARGS, always=True,
                     log_file=build_dir / "build.log")
    except SystemExit as error:   # cocotb's runner exits on a failed build
        raise HwgenError(f"Verilator build failed: see {build_dir / 'build.log'}") from error
    stamp.write_text(digest)


def run_stream_test(component, inputs, expected, *, idle: float = 0.0, backpressure: float = 0.0,
                    seed: int = 0, build_root=None, name: str = "stream",
                    timeout_cycles: int | None = None, stop_on_mismatch: bool = True,
                    select: int | None = None) -> StreamRun:
    """Co-simulate ``component`` on Verilator: drive ``inputs``, check against ``expected``.

    Parameters
    ----------
    component : wiring.Component with streams ``i`` and ``o``.
    inputs : list of int
        Raw ``i.payload`` words, in order.
    expected : list of int
        Raw ``o.payload`` words the block must produce, in order.
    idle : float
        Probability of an idle cycle before each input transfer.
    backpressure : float
        Probability that ``o.ready`` is low in a cycle.
    seed : int
        Seed of the idle/backpressure generator (the run is reproducible).
    stop_on_mismatch : bool
        Stop at the first wrong output (default), or run on and count them.
    select : int, optional
        For a component with a ``select`` port (a :class:`~hwgen.lib.bank.Bank`): its value,
        held from reset on.
    """
    from cocotb_tools.runner import get_results, get_runner
    _prepare_environment()
    build_root = Path(build_root) if build_root is not None else default_build_root()
    select = check_select(component, select)
    with _built(verilog_of(component), build_root) as build_dir:
        run_dir = fresh_dir(build_dir / "runs" / name)
        vectors = run_dir / "vectors.json"
        observed = run_dir / "observed.json"
        if timeout_cycles is None:
            timeout_cycles = default_timeout(len(inputs), len(expected), idle, backpressure)
        vectors.write_text(json.dumps({
            "inputs": [str(int(word)) for word in inputs],
            "expected": [str(int(word)) for word in expected],
            "idle": idle, "backpressure": backpressure, "seed": seed,
            "timeout_cycles": timeout_cycles, "observed": str(observed),
            "stop_on_mismatch": stop_on_mismatch, "select": select,
        }))
        results_xml = run_dir / "results.xml"
        runner = get_runner("verilator")
        try:
            runner.test(test_module="tb_stream", hdl_toplevel=_TOP, hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=data_dir("sim"),
                        results_xml=str(results_xml), log_file=run_dir / "sim.log", seed=seed,
                        extra_env={"HWGEN_VECTORS": str(vectors), "PYTHONDONTWRITEBYTECODE": "1"})
        except SystemExit:   # cocotb's runner exits when a test fails; the results say which
            pass
        _tests, failures = get_results(results_xml)
        if not observed.exists():
            raise HwgenError(f"co-simulation crashed before reporting: "
                             f"see {run_dir / 'sim.log'}")
        report = json.loads(observed.read_text())
        return StreamRun(passed=failures == 0 and report["passed"],
                         mismatches=report["mismatches"],
                         outputs=[int(word) for word in report["outputs"]],
                         output_cycles=report["output_cycles"], cycles=report["cycles"],
                         wall_s=report["wall_s"], message=report["message"])


def run_testbench(component, test_module: str, config: dict, *, build_root=None,
                  name: str = "testbench", seed: int = 0) -> tuple[bool, dict]:
    """Co-simulate ``component`` on Verilator with the cocotb testbench ``sim/<test_module>.py``.

    ``config`` is written as JSON to the file named by the environment variable
    ``HWGEN_CONFIG``, with ``observed``: the path where the testbench writes what it saw (a JSON
    object). Returns whether every cocotb test passed, and that object.

    Raises
    ------
    HwgenError
        The Verilator build failed, or the testbench wrote nothing (it crashed).
    """
    from cocotb_tools.runner import get_results, get_runner
    _prepare_environment()
    build_root = Path(build_root) if build_root is not None else default_build_root()
    with _built(verilog_of(component), build_root) as build_dir:
        run_dir = fresh_dir(build_dir / "runs" / name)
        observed = run_dir / "observed.json"
        config_file = run_dir / "config.json"
        config_file.write_text(json.dumps({**config, "observed": str(observed)}))
        results_xml = run_dir / "results.xml"
        try:
            get_runner("verilator").test(
                test_module=test_module, hdl_toplevel=_TOP, hdl_toplevel_lang="verilog",
                build_dir=build_dir, test_dir=data_dir("sim"), results_xml=str(results_xml),
                extra_env={"HWGEN_CONFIG": str(config_file), "PYTHONDONTWRITEBYTECODE": "1"},
                log_file=run_dir / "sim.log", seed=seed)
        except SystemExit:   # cocotb's runner exits when a test fails; the results say which
            pass
        if not observed.exists():
            raise HwgenError(f"co-simulation crashed before reporting: "
                             f"see {run_dir / 'sim.log'}")
        _tests, failures = get_results(results_xml)
        return failures == 0, json.loads(observed.read_text())
