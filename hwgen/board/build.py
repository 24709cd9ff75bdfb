"""Bitstream build: Amaranth elaboration and the target's tools (Yosys, nextpnr, a packer)
into one folder.

The platform's build plan is extracted into ``out_dir`` and its commands run one by one with
the tools the board's target finds (:meth:`hwgen.target.Target.tool_env`), so each stage
(:attr:`hwgen.target.Target.stages`) reports progress and a failure names the log of the tool
that failed. ``out_dir`` then holds, besides the family's own files (on ECP5 the ``.lpf``
constraints, the textual ``.config`` bitstream and the ``.svf`` JTAG vector):

=========================== ===========================================================
``<name>.il``               the design as RTLIL (Amaranth's output)
``<name>.v``                the same as Verilog (written by the synthesis run)
``<name>.ys``               synthesis script
``<name>.rpt``              Yosys log
``<name>.json``             synthesized netlist
``<name>.tim``              nextpnr log
``<name>_report.json``      nextpnr report: utilisation and Fmax per clock
``<name><suffix>``          bitstream (:attr:`hwgen.target.Target.bitstream_suffix`)
``build_<name>.log``        everything the tools printed, command by command
``build_<name>.sh``         Amaranth's script, to rerun the build by hand
=========================== ===========================================================
"""
import json
import re
import subprocess
import time
from pathlib import Path

from ..errors import HwgenError
from ..target import BuildReport
from ..toolchain import ToolchainError, tool_env_var
from .board import Board

__all__ = ["build_platform", "build_bitstream", "Cancelled", "PROGRAMMER_TOOLS"]

# Tools amaranth-boards platforms list as required that only programming needs.
PROGRAMMER_TOOLS = frozenset({"openFPGALoader", "openocd", "ecpprog", "iceprog", "fujprog"})


def build_platform(board: Board, *, programming: bool = False):
    """An instance of the board's platform class.

    amaranth-boards' ULX3S platform requires ``openFPGALoader`` even to build; unless
    ``programming``, the instance comes from a subclass without the programmer tools in
    ``required_tools``.
    """
    if not isinstance(board, Board):
        raise TypeError(f"board must be a Board, not {board!r}")
    platform_class = board.platform_class()
    if programming:
        return platform_class()

    def required_tools(self):
        return [tool for tool in super(build_only, self).required_tools
                if tool not in PROGRAMMER_TOOLS]

    build_only = type(f"{platform_class.__name__}BuildOnly", (platform_class,),
                      {"required_tools": property(required_tools),
                       "__module__": __name__})
    return build_only()


def _first_error(path: Path) -> str | None:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        if "ERROR" in line:
            return line.strip()
    return None


class Cancelled(HwgenError):
    """The build was stopped from outside (another step of the run failed)."""


#: Seconds between the progress lines of a running tool.
PROGRESS_EVERY = 15.0

#: A tool log's lines that name what it is doing: nextpnr's ``Info: Running ...`` headers
#: (not its indented figures), Yosys's numbered ``Executing ... pass`` lines.
_PHASES = (re.compile(r"^Info: ([A-Z][^:]*?)\.*$"), re.compile(r"^[\d.]+ (Executing .*?)\.?$"))


def _phase(path: Path | None) -> str:
    """What the tool writing ``path`` is doing, from the last phase line in its tail."""
    if path is None or not path.is_file():
        return ""
    try:
        with path.open("rb") as stream:
            stream.seek(max(0, stream.seek(0, 2) - 16384))
            tail = stream.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(tail):
        for pattern in _PHASES:
            match = pattern.match(line.strip())
            if match:
                return match.group(1)[:80]
    return ""


def _run_stage(command: list[str], *, cwd: Path, env: dict, log: Path, tool_log: Path | None,
               cancel=None, say=None, what: str = ""):
    """Run one tool of the build, its output into ``log``; every :data:`PROGRESS_EVERY`
    seconds ``say`` gets a line: the time so far and the phase its log (``tool_log``) shows."""
    tool = command[0]
    executable = env.get(tool_env_var(tool), tool)
    with log.open("a") as log_file:
        log_file.write(f"$ {' '.join([executable, *command[1:]])}\n")
        log_file.flush()
        try:
            process = subprocess.Popen([executable, *command[1:]], cwd=cwd, env=env,
                                       stdout=log_file, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        except OSError as error:
            raise HwgenError(f"{tool} could not start ({error}); see {log}") from None
        started = time.monotonic()
        next_line = started + PROGRESS_EVERY
        try:
            while True:
                try:
                    returncode = process.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(f"{tool} stopped: another step failed") from None
                    now = time.monotonic()
                    if say is not None and now >= next_line:
                        phase = _phase(tool_log)
                        say(f"{what or tool}: {now - started:.0f} s"
                            + (f", {phase}" if phase else ""))
                        next_line = now + PROGRESS_EVERY
        finally:
            if process.poll() is None:               # cancelled, or this thread interrupted
                process.kill()
                process.wait()
    if returncode != 0:
        pointer = tool_log if tool_log is not None and tool_log.is_file() else log
        reason = _first_error(pointer) or _first_error(log) or f"exit status {returncode}"
        raise HwgenError(f"{tool} failed: {reason}; see {pointer}")


def build_bitstream(top, board: Board, out_dir, *, name: str = "top",
                    clock_mhz: float | None = None, seed: int = 1, placer: str = "heap",
                    progress=None, cancel=None) -> BuildReport:
    """Synthesize, place and route ``top`` for ``board`` and pack its bitstream.

    Parameters
    ----------
    top : Elaboratable
        The board top (e.g. :class:`~hwgen.board.top.BoardTop`); it creates its ``sync``
        domain.
    board : Board
        Target board and variant; its family's target (:attr:`Board.target`) runs the build.
    out_dir : path
        Folder for every product (created if missing); nothing is written elsewhere.
    name : str
        Base name of the files (alphanumeric and ``_``).
    clock_mhz : float, optional
        Design clock to time against (default: ``top.clock_mhz`` if it has one, else
        ``board.clock_mhz``).
    seed : int
        nextpnr placement seed.
    placer : str
        nextpnr's placer, one of the target's (:attr:`hwgen.target.Target.placers`).
    progress : callable, optional
        Called with a short message at each stage.
    cancel : threading.Event, optional
        Once set, the running tool is stopped and :class:`Cancelled` raised (no later stage
        starts).

    Returns
    -------
    BuildReport
        Utilisation and Fmax; timing is *not* checked (see :meth:`BuildReport.check_timing`).

    Raises
    ------
    HwgenError
        A tool failed or is missing; the message names its log in ``out_dir``.
    """
    say = progress if progress is not None else (lambda message: None)
    if not isinstance(name, str) or not name or not name.replace("_", "").isalnum() \
            or not name.isascii():
        raise ValueError(f"name must be alphanumeric (and _), not {name!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, not {seed!r}")
    target = board.target
    if placer not in target.placers:
        raise ValueError(f"placer must be one of {', '.join(target.placers)}, not {placer!r}")
    if clock_mhz is None:
        clock_mhz = getattr(top, "clock_mhz", None) or board.clock_mhz
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        env = target.tool_env()
    except ToolchainError as error:
        raise HwgenError(str(error)) from None

    say(f"elaborating {name} for {board.name} {board.variant} ({board.device}) "
        f"at {clock_mhz:g} MHz")
    started = time.monotonic()
    platform = build_platform(board)
    plan = platform.build(
        top, name=name, do_build=False,
        # Debug Verilog would run Yosys inside this process, outside ``env``; the synthesis
        # run writes plain Verilog instead, from the same RTLIL.
        debug_verilog=False,
        script_after_read="\n".join([
            "design -push-copy",
            # As amaranth.back.verilog, less its memory_collect: that skips (and warns about)
            # every module with processes left, and write_verilog prints memories either way.
            "proc -nomux -norom",
            f"write_verilog -norename {name}.v",
            "design -pop",
        ]),
        # --tmg-ripup: the router rips up and reroutes the arcs that fail timing, not only
        # those that share wires (README's KWS section has what it gains).
        nextpnr_opts=["--report", f"{name}_report.json", "--timing-allow-fail",
                      "--seed", str(seed), "--placer", placer, "--tmg-ripup"],
        synth_opts=list(target.synth_opts))
    plan.files.pop(f"{name}.debug.v", None)
    bitstream = out_dir / f"{name}{target.bitstream_suffix}"
    for product in (bitstream.name, f"{name}_report.json", f"{name}.tim"):
        (out_dir / product).unlink(missing_ok=True)     # none may outlive a failed rebuild
    plan.extract(out_dir)
    commands = json.loads(plan.files[f"build_{name}.json"])["commands"]

    log = out_dir / f"build_{name}.log"
    log.write_text("")
    stages = {stage.tool: stage for stage in target.stages}
    for command in commands:
        if cancel is not None and cancel.is_set():
            raise Cancelled("the build stopped before its next tool: another step failed")
        tool = command[0]
        stage = stages.get(tool)
        what = tool if stage is None else stage.what
        tool_log = None if stage is None or stage.log is None else out_dir / f"{name}{stage.log}"
        say(f"{what} ({tool})")
        stage_started = time.monotonic()
        _run_stage(command, cwd=out_dir, env=env, log=log, tool_log=tool_log, cancel=cancel,
                   say=say, what=what)
        say(f"{what} done in {time.monotonic() - stage_started:.1f} s")

    if not bitstream.is_file() or bitstream.stat().st_size == 0:
        raise HwgenError(f"no bitstream was written; see {log}")
    device = f"{board.device} ({board.package}, speed {board.speed})"
    report_json = out_dir / f"{name}_report.json"
    synthesis_log = out_dir / f"{name}.rpt"         # Yosys's log (-l), with its statistics
    if report_json.is_file():
        report = target.parse_report(report_json, clock_mhz=clock_mhz, device=device,
                                     bitstream=bitstream, synthesis_log=synthesis_log)
    else:   # an AMARANTH_nextpnr_opts in the environment replaced our --report
        nextpnr_log = out_dir / f"{name}.tim"
        if not nextpnr_log.is_file():
            raise HwgenError(f"nextpnr wrote neither {report_json.name} nor {nextpnr_log.name}; "
                             f"see {log}")
        report = target.parse_log(nextpnr_log.read_text(errors="replace"), clock_mhz=clock_mhz,
                                  device=device, bitstream=bitstream,
                                  synthesis_log=synthesis_log)
    say(f"built {bitstream.name} in {time.monotonic() - started:.1f} s: {report.summary()}")
    return report
