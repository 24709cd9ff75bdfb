"""``hwgen train | export | sim | build | run | program | report SPEC``.

``train``, ``export``, ``sim`` and ``build`` run the flow's steps (:data:`hwgen.flow.STEPS`, in
their order) up to their own, making what is missing and reusing the rest (``report`` prints
the last report, or runs ``sim``'s steps to make one); ``sim`` and
``build`` take ``--from STEP`` / ``--to STEP`` to run a slice of them. Bad input ends with one
line on stderr and exit status 2; a failed check (RTL differs from golden, timing missed, a
tool failed, a product ``--from`` needs is not saved) with exit status 1.
"""
import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .errors import HwgenError, SpecError

__all__ = ["main"]


def _say(message: str):
    print(f"[hwgen] {message}", file=sys.stderr, flush=True)


#: Steps ``hwgen sim`` does not run.
_SIM_SKIPS = frozenset({"build"})

#: The step whose product each command prints (when the run reaches it).
_SHOWN = {"train": "train", "export": "export", "sim": "verify", "build": "report",
          "import": "export", "report": "report"}


def _step_range(sub, *, skip=frozenset()):
    """``--from`` and ``--to`` on ``sub``, over the steps it runs (all but ``skip``), listed
    in its help."""
    from .flow.steps import STEPS
    steps = [step for step in STEPS if step.name not in skip]
    names = [step.name for step in steps]
    sub.add_argument("--from", dest="start", metavar="STEP", choices=names, default=names[0],
                     help=f"first step to run, one of {', '.join(names)} (default: "
                          f"%(default)s); the steps before it do not run, and the products "
                          f"the later ones need of them must be saved")
    sub.add_argument("--to", dest="stop", metavar="STEP", choices=names, default=names[-1],
                     help="last step to run (default: %(default)s)")
    sub.formatter_class = argparse.RawDescriptionHelpFormatter
    width = max(len(name) for name in names)
    sub.epilog = "steps, in order:\n" + "\n".join(f"  {step.name:<{width}}  {step.summary}"
                                                   for step in steps)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwgen", description="Binarized neural networks to verified streaming hardware.")
    parser.add_argument("--version", action="version", version=f"hwgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help_text):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("spec", metavar="SPEC", help="the spec file (YAML)")
        sub.add_argument("--out", metavar="DIR", default=None,
                         help="output directory (default: build/<spec name>)")
        sub.add_argument("--seed", type=int, default=None,
                         help="override the spec's seed (default: the spec's); another seed's "
                              "default output directory is build/<spec name>-seed<N>")
        return sub

    train = command("train", "train the BNN (float reference too) and save a checkpoint")
    train.add_argument("--force", action="store_true", help="retrain even if a checkpoint matches")
    export = command("export", "fold the checkpoint into the integer IR (trains first if needed)")
    export.add_argument("--qonnx", metavar="OUT.onnx", default=None,
                        help="also write the IR as a QONNX model (MatMul, MultiThreshold, "
                             "Im2Col, ...) that qonnx's executor runs as the golden model "
                             "does (needs the qonnx extra: pip install -e '.[qonnx]')")
    sim = command("sim", "size FIFOs, then co-simulate the generated RTL on Verilator against "
                        "the golden model")
    sim.add_argument("--frames", type=int, default=None,
                     help="test frames to simulate (default: the spec's verify.frames, else all)")
    sim.add_argument("--trace", action="store_true",
                     help="write an FST waveform (GTKWave, Surfer): on a mismatch OUT/sim/"
                          "mismatch.fst, a window of cycles around the first wrong word, else "
                          "OUT/sim/trace.fst, the first two frames; builds a traced simulator "
                          "and never reuses the last verification (default: no waveform)")
    _step_range(sim, skip=_SIM_SKIPS)
    build = command("build", "train, export, fold, size FIFOs, verify and build a bitstream, "
                             "reusing what exists")
    build.add_argument("--board", default=None,
                       help="board name under boards/ or a board YAML file (default: the spec's)")
    build.add_argument("--variant", default=None,
                       help="the board's device variant (ulx3s: 12F, 25F, 45F, 85F; default: "
                            "the board file's)")
    build.add_argument("--no-verify", action="store_true",
                       help="skip the RTL co-simulation (default: verify before building)")
    _step_range(build)
    run = command("run", "stream the test set to the board over a serial port; report accuracy, "
                         "agreement with the golden model and throughput")
    run.add_argument("--port", required=True,
                     help="serial port of the board (e.g. /dev/ttyUSB0) or a pyserial URL")
    run.add_argument("--baud", type=int, default=None,
                     help="baud rate (default: the board file's uart_baud)")
    run.add_argument("--board", default=None,
                     help="board name under boards/ or a board YAML file (default: the spec's)")
    run.add_argument("--variant", default=None,
                     help="the board's device variant (default: the board file's)")
    run.add_argument("--frames", type=int, default=None,
                     help="test frames to stream (default: all)")
    run.add_argument("--timeout", type=float, default=1.0,
                     help="seconds to wait for an answer before sending a frame again "
                          "(default: %(default)s)")
    program = command("program", "load the built bitstream onto the board with openFPGALoader")
    program.add_argument("--board", default=None,
                         help="board name under boards/ or a board YAML file (default: the "
                              "spec's)")
    program.add_argument("--variant", default=None,
                         help="the board's device variant (default: the board file's)")
    program.add_argument("--flash", action="store_true",
                         help="write the board's flash (default: its SRAM, lost at power-off)")
    command("report", "print the report of the last sim or build; where there is none, "
                      "make it first (the steps of hwgen sim: train, export, fold and size "
                      "FIFOs, co-simulate), reusing what exists")
    sweep = commands.add_parser(
        "sweep", help="run a spec at every point of a sweep's axes, in parallel",
        description="run a base spec at every point of a sweep file's axes (spec keys by "
                    "path), a process per core; results stream into OUT/results.csv, "
                    ".jsonl and .parquet (with pyarrow), OUT/report.md has the Pareto fronts "
                    "and heat maps; a sweep run again resumes (finished points are not rerun)")
    sweep.add_argument("sweep", metavar="SWEEP", help="the sweep file (YAML)")
    sweep.add_argument("--out", metavar="DIR", default=None,
                       help="output directory (default: build/sweeps/<sweep name>)")
    sweep.add_argument("--jobs", type=int, default=None,
                       help="points at once (default: a process per core)")
    sweep.add_argument("--ray", metavar="ADDRESS", default=None,
                       help="run the points as Ray tasks on the cluster at ADDRESS (auto: the "
                            "running one; local: a Ray instance started here); needs the ray "
                            "extra, hwgen on every node and --out on a shared folder")
    imported = commands.add_parser(
        "import", help="import a QONNX BNN (Brevitas's export_qonnx) as hwgen's IR",
        description="import a QONNX BNN (Brevitas's export_qonnx) as hwgen's IR, checked "
                    "against qonnx's executor on the spec's test set; the spec gives the "
                    "data, board and hardware (its model layers and training are replaced: "
                    "a spec with model: {qonnx: MODEL.onnx} then builds it)")
    imported.add_argument("model", metavar="MODEL.onnx", help="the QONNX file")
    imported.add_argument("--spec", required=True, metavar="SPEC",
                          help="the spec file (YAML) whose data, board and hardware to use")
    imported.add_argument("--out", metavar="DIR", default=None,
                          help="output directory (default: build/<spec name>)")
    imported.add_argument("--seed", type=int, default=None,
                          help="override the spec's seed (default: the spec's)")
    return parser


def _load_board(option: str | None, spec, variant: str | None = None):
    """The board named by ``--board``, else by the spec's ``board`` key; its device
    ``variant`` (``--variant``) if given."""
    from .board.board import load_board
    if option is not None:
        return load_board(option, variant=variant)
    try:
        return load_board(spec.board, variant=variant)
    except SpecError as error:
        # A name that resolves to no board file is a mistake in the spec: say so, naming the spec
        # (load_board names the board itself). Problems inside a board file name that file.
        name = spec.board
        if error.key != "board" or error.file not in (name, Path(name)) or Path(name).is_file():
            raise
        problem = error.problem if repr(name) in error.problem else f"{error.problem}: {name!r}"
        raise SpecError(spec.path, "board", problem, allowed=error.allowed) from None


def _run_sweep(args) -> int:
    """``hwgen sweep``: every point of the sweep, the table written as they finish."""
    from .sweep import load_sweep, run_sweep
    sweep = load_sweep(args.sweep)
    if args.jobs is not None and args.jobs < 1:
        raise SpecError("--jobs", None, f"must be at least 1, not {args.jobs}")
    out = Path(args.out) if args.out is not None else Path.cwd() / "build" / "sweeps" / sweep.name
    if out.exists() and not out.is_dir():
        raise SpecError("--out", None, f"{out} is a file, not a folder")
    entries = run_sweep(sweep, out, jobs=args.jobs, ray=args.ray, say=_say)
    counts = {status: sum(entry["status"] == status for entry in entries.values())
              for status in ("ok", "invalid", "failed")}
    _say(f"sweep {sweep.name}: {counts['ok']} ok, {counts['invalid']} invalid, "
         f"{counts['failed']} failed; table {out / 'results.csv'}")
    return 1 if counts["failed"] else 0


def _run(args) -> int:
    if args.command == "sweep":
        return _run_sweep(args)
    from .flow import Workspace
    from .spec import SEED_MAX, load_spec
    spec = load_spec(args.spec)
    if args.command == "import":
        spec = _imported_spec(spec, args.model)
    if args.seed is not None and not 0 <= args.seed <= SEED_MAX:
        raise SpecError("--seed", None, f"must lie in 0..2**32-1, not {args.seed}",
                        allowed=f"0..{SEED_MAX}")
    if args.command in ("train", "export", "sim", "build", "import"):
        from .data import check_data     # a data folder the spec names, checked up front
        check_data(spec)
    # The board is validated before anything runs: the one a command uses, and the spec's own
    # for every command (a misspelt board is caught by hwgen train as by hwgen build).
    board = _load_board(args.board, spec, args.variant) \
        if args.command in ("build", "run", "program") else None
    if board is None and spec.board is not None:
        _load_board(None, spec)
    qonnx_file = getattr(args, "qonnx", None)
    if qonnx_file is not None:
        from .qonnx import check_qonnx_file
        check_qonnx_file(qonnx_file)
    if args.command in ("sim", "run") and args.frames is not None and args.frames < 1:
        raise SpecError("--frames", None, f"must be at least 1, not {args.frames}")
    if args.command == "run":
        from .board.host import baud_problem, timeout_problem
        if args.baud is not None and baud_problem(args.baud):
            raise SpecError("--baud", None, baud_problem(args.baud))
        if timeout_problem(args.timeout):     # nan and inf too: a wait must end
            raise SpecError("--timeout", None, timeout_problem(args.timeout))
    workspace = Workspace.create(spec, args.out, seed=args.seed, say=_say)

    if args.command == "program":
        from .board.host import program_board
        program_board(workspace.checked_bitstream(board), board, flash=args.flash, say=_say)
        return 0
    if args.command == "run":
        return _run_board(args, workspace, board)
    if args.command == "report" and workspace.report_file.exists():
        print(workspace.read_report(), end="")
        return 0
    return _run_steps(args, spec, workspace, board)


def _imported_spec(spec, model: str):
    """``spec`` with ``model.qonnx`` = ``model`` (``hwgen import``): its layers and training
    replaced, its cim section refused (an imported model is digital)."""
    import dataclasses

    from .spec import ModelSpec
    path = Path(model)
    if path.suffix != ".onnx":
        raise SpecError("MODEL", None, f"must name a .onnx file, not {str(path)!r}")
    if not path.is_file():
        raise SpecError("MODEL", None, f"no such file: {path}")
    if spec.cim is not None:
        raise SpecError(spec.path, "cim", "hwgen import runs the model digitally: to map its "
                        "layers onto the macro, name the file in model.qonnx and the layers in "
                        "model.cim_layers", allowed="no cim section")
    return dataclasses.replace(spec, model=ModelSpec(qonnx=str(path.resolve())))


def _run_steps(args, spec, workspace, board) -> int:
    """``hwgen train | export | sim | build``: the steps the command runs, its product
    printed; for ``build``, the timing checked."""
    from .flow import STEP_NAMES, STEPS, run_steps
    command = args.command
    start = getattr(args, "start", STEP_NAMES[0])
    stop = getattr(args, "stop", "export" if command == "import" else
                   command if command in ("train", "export") else STEP_NAMES[-1])
    skip = set(_SIM_SKIPS) if command in ("sim", "report") else set()
    if getattr(args, "no_verify", False):
        skip.add("verify")
    board = workspace.clocked(board)
    if board is None and spec.hardware.target_fps is not None and command in ("sim", "report"):
        board = workspace.clocked(_load_board(None, spec))   # its clock: FPS target -> cycles
    run = run_steps(workspace, start=start, stop=stop, skip=skip,
                    force={"train"} if getattr(args, "force", False) else (), board=board,
                    clock_hz=None if board is None else board.clock_mhz * 1e6,
                    frames=getattr(args, "frames", None), trace=getattr(args, "trace", False))
    ran = [step for step in STEPS if run.results.get(step.name) is not None]
    shown = next((step for step in ran if step.name == _SHOWN[command]), ran[-1])
    text = shown.show(workspace, run.results[shown.name])
    print(text, end="" if text.endswith("\n") else "\n")
    if getattr(args, "qonnx", None) is not None:
        from .flow.cache import write_atomic
        from .qonnx import qonnx_bytes
        write_atomic(Path(args.qonnx), qonnx_bytes(run.results["export"]))
        _say(f"QONNX model: {args.qonnx}")
    build = run.results.get("build")
    if build is not None:
        workspace.check_timing(build)
        _say(f"bitstream: {workspace.gateware_dir / ('top' + board.target.bitstream_suffix)}")
    return 0


def _run_board(args, workspace, board) -> int:
    """``hwgen run``: the IR the bitstream was built from, streamed to the board. The port is
    opened and the board asked what it runs before anything is trained or exported: a wrong
    port, baud rate or an unloaded board ends the command at once."""
    from .board.host import BoardLink, open_port, run_test_set
    from .ir import load_ir
    baud = board.uart_baud if args.baud is None else args.baud
    name = f"the board on {args.port}"
    port = open_port(args.port, baud=baud, timeout=args.timeout)
    try:
        link = BoardLink(port, timeout=args.timeout, name=name)
        info = link.info()
        _say(f"{name} runs {info.describe()}")
        if workspace.hardware_ir_file.exists():
            try:       # the IR the bitstream was built from: a damaged one is not guessed at
                graph = load_ir(workspace.hardware_ir_file, digest_required=True)
            except HwgenError as error:
                raise HwgenError(f"{error}: run hwgen build again") from None
            _say(f"using the hardware IR {workspace.hardware_ir_file}")
        else:
            graph = workspace.export()
        report = run_test_set(graph, port, frames=args.frames, timeout=args.timeout,
                              name=name, say=_say, link=link, info=info)
    finally:
        port.close()
    print(json.dumps({"port": args.port, "baud": baud, **report.to_dict()}, indent=2))
    _say(f"{report.frames} frames at {report.frames_per_s:.1f} frames/s: accuracy "
         f"{report.accuracy:.4f} (golden {report.golden_accuracy:.4f}), golden agreement "
         f"{report.golden_agreement:.4f}")
    if report.mismatches:
        raise HwgenError(f"the board differs from golden in {len(report.mismatches)} places "
                         f"({report.golden_agreement:.2%} of frames agree); first: "
                         f"{report.mismatches[0]}")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except SpecError as error:
        print(f"hwgen: error: {error}", file=sys.stderr)
        return 2
    except HwgenError as error:
        print(f"hwgen: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hwgen: interrupted", file=sys.stderr)
        return 130
