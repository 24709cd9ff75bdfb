"""The build step: the board top (the network behind the UART, with a demo ROM of test
frames) through synthesis, place and route to a bitstream (``gateware/``: Verilog, ``top`` with
the board's family's suffix (``top.bit``, ``top.bin``), tool logs, ``build.json``), and the
checks on what it built.

Its key is the hardware IR's, the board, the placer and its seed, and the sources of every
module this one can reach (:mod:`.sources`): a change to a generator builds the bitstream
again. ``build.json`` names the bitstream and holds its sha256 beside its own key.
"""
import dataclasses
from pathlib import Path

from ..errors import HwgenError, SpecError, excerpt
from ..target import TARGETS
from .cache import Product, Unusable, file_digest, key_digest, read_summary, summary_json
from .sources import source_digest

__all__ = ["clocked", "board_top", "bitstream_key", "build", "checked_bitstream",
           "check_timing"]

def clocked(spec, board):
    """``board`` with the spec's ``hardware.clock_mhz`` as its design clock, if it sets one;
    the spec's ``hardware.placer`` checked against the board's family (SpecError naming the
    key when the placer, the PLL or the board's UART cannot follow)."""
    if board is None:
        return board
    placers = board.target.placers
    if spec.hardware.placer not in placers:
        raise SpecError(spec.path, "hardware.placer",
                        f"{spec.hardware.placer!r} is no placer of the {board.name} "
                        f"board's family ({board.family})", allowed=", ".join(placers))
    clock = spec.hardware.clock_mhz
    if clock is None or clock == board.clock_mhz:
        return board
    from ..board.board import BoardError
    try:
        return dataclasses.replace(board, clock_mhz=clock)
    except BoardError as error:          # the board's check: its PLL, its UART's baud rate
        if error.key == "clock_mhz":
            raise SpecError(spec.path, "hardware.clock_mhz", error.problem,
                            allowed=error.allowed) from None
        raise SpecError(spec.path, "hardware.clock_mhz", f"the board's {error}") from None


def board_top(spec, graph, board):
    """The board top :func:`build` synthesizes: ``graph``'s network behind the UART, with the
    demo ROM of its first test frames."""
    from ..board.protocol import network_id
    from ..board.top import BoardTop
    from ..golden import run_graph
    from ..hw.network import Network
    network = Network(graph, fifo_depth=spec.hardware.fifo_depth, target=board.target)
    # The demo ROM holds the first test frames, up to the part's share of block RAM.
    frame_bits = graph.input_elements * graph.input_bits
    share = board.target.demo_rom_share(board.device)
    count = max(1, min(len(graph.test_frames), share // frame_bits))
    words = network.input_words(graph.test_frames[:count])
    # The button's ROM pass checks the board against the golden model's classes (the
    # accuracy is hwgen run's to measure).
    expected = run_graph(graph, graph.test_frames[:count]).labels
    return BoardTop(network=network, words=words,
                    transfers_per_frame=network.transfers_per_frame,
                    labels=[int(label) for label in expected], board=board,
                    input_bits=graph.input_bits, network_id=network_id(graph))


def bitstream_key(workspace, graph, board) -> str:
    """The key of ``graph``'s bitstream for ``board``."""
    hardware = workspace.spec.hardware
    return key_digest({"hw": graph.meta.get("hardware_key", workspace.hardware_key),
                       "board": dataclasses.asdict(board), "placer": hardware.placer,
                       "seed": hardware.seed, "sources": source_digest([__name__])})


#: The bitstreams a build may name in build.json: ``top`` and a known family's suffix.
_BITSTREAM_NAMES = tuple(dict.fromkeys(f"top{family.bitstream_suffix}"
                                       for family in TARGETS.values()))


def _read_built(folder: Path) -> tuple[str | None, dict]:
    """The build summary in ``folder`` and its key, once it and the bitstream it names are
    checked against their digests (:class:`Unusable` naming the one at fault)."""
    summary_file = folder / "build.json"
    try:
        saved = read_summary(summary_file)
    except HwgenError as error:
        raise Unusable.damaged(error, summary_file) from None
    name = saved.get("bitstream", "top.bit")
    if name not in _BITSTREAM_NAMES:        # a file beside build.json, of a known family
        raise Unusable(summary_file, f"damaged (its bitstream {excerpt(name)} is none hwgen "
                                     f"writes: {', '.join(_BITSTREAM_NAMES)})")
    bitstream = folder / name
    expected = saved.get("bitstream_sha256")
    if expected is not None:
        found = file_digest(bitstream) if bitstream.is_file() else None
        if found != expected:
            raise Unusable(bitstream, "damaged (missing)" if found is None else
                           "damaged (its content does not match build.json's digest)")
    return saved.get("key"), saved


def _write_macro_interfaces(graph, folder: Path):
    """The black-box Verilog of each cim layer's macro (``rtl_templates/cim_macro.sv.j2``):
    the modules a chip flow replaces with hard macros."""
    from ..ops.mvtu.cim import render_macro
    for layer in graph.mvtus():
        if layer.macro is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{layer.name}_macro.sv").write_text(render_macro(layer))


def build(workspace, graph, board, *, force: bool = False, cancel=None) -> dict:
    """Bitstream for ``board``; the summary says whether timing was met (see
    :func:`check_timing`), so that a failing build still gets its report. ``cancel``: a
    :class:`threading.Event` that stops the tools once set (another step failed)."""
    hardware = workspace.spec.hardware
    key = bitstream_key(workspace, graph, board)

    def make(stage):
        from ..board.build import build_bitstream
        top = board_top(workspace.spec, graph, board)
        folder = stage()
        report = build_bitstream(top, board, folder, name="top", placer=hardware.placer,
                                 seed=hardware.seed, progress=workspace.say, cancel=cancel)
        _write_macro_interfaces(graph, folder / "cim")
        bitstream = folder / f"top{board.target.bitstream_suffix}"
        summary = {"key": key, **report.to_dict(), "bitstream": bitstream.name,
                   "bitstream_sha256": file_digest(bitstream) if bitstream.is_file() else None}
        (folder / "build.json").write_bytes(summary_json(summary))
        return summary

    product = Product("bitstream", workspace.gateware_dir, _read_built, folder=True)
    return workspace.keep("build", product, key, make, force=force).value


def checked_bitstream(gateware: Path, suffix: str = ".bit") -> Path:
    """The built bitstream in ``gateware`` (``top`` and the board family's ``suffix``), once
    it and ``build.json`` are checked against their digests (what ``hwgen program`` loads);
    HwgenError in one line when either is missing or damaged."""
    bitstream = gateware / f"top{suffix}"
    summary_file = gateware / "build.json"
    if not bitstream.is_file():
        raise HwgenError(f"no bitstream at {bitstream}: run hwgen build first")
    try:
        saved = read_summary(summary_file)
    except HwgenError as error:
        raise HwgenError(f"{error}: run hwgen build again") from None
    if saved.get("bitstream", bitstream.name) != bitstream.name:
        raise HwgenError(f"{summary_file} is the build of {saved['bitstream']}, not "
                         f"{bitstream.name}: run hwgen build for this board")
    expected = saved.get("bitstream_sha256")
    if expected != file_digest(bitstream):
        raise HwgenError(f"{bitstream}: its content does not match build.json's digest "
                         f"(damaged or edited): run hwgen build again")
    return bitstream


def check_timing(build: dict, report: Path):
    """Raise :class:`HwgenError` unless the build met its requested clock (``report``: where
    the report of the run is)."""
    if build.get("met_timing"):
        return
    fmax = build.get("fmax_mhz")
    achieved = "no Fmax reported" if fmax is None else f"Fmax {fmax:.1f} MHz"
    raise HwgenError(f"timing failed: {achieved} < requested {build.get('clock_mhz'):g} MHz "
                     f"(lower clock_mhz in the board file, or fold the slowest layer less); "
                     f"see {report}")
