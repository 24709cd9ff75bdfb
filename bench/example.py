"""Figures of one spec end to end: train, export, fold, size FIFOs, co-simulate, and place and
route a bitstream (the board's toolchain; minutes); one ``key: value`` a line.

    python bench/example.py [SPEC] [--board ulx3s] [--out DIR]

SPEC defaults to ``examples/digits_cnn.yaml`` (the conv example). Steps already done under ``--out`` (default
``build/bench/<spec name>``) are reused, as ``hwgen build`` reuses them; progress goes to
stderr, the figures to stdout:

    cycles_ratio       measured / expected cycles per frame (full-rate co-simulation)
    sim_cycles_per_s   Verilator cycles simulated per wall-clock second
    luts, ffs, brams   ECP5 TRELLIS_COMB, TRELLIS_FF, DP16KD cells of the whole board top
    fmax_mhz           post-route Fmax of the design clock
    accuracy           test accuracy of the RTL (the co-simulated frames)
    golden_accuracy    the golden model's on the same frames (with a cim layer's seeded noise)
    rtl_golden_mismatches  frames whose class or logits differ between RTL and golden model
    quiet_accuracy     (specs with cim layers) the golden model's with the macros' noise off
    expected_cycles    analytic cycles per frame (the slowest layer's)
    fifo_sizing_s      seconds the FIFO sizing took (one Verilator build and its runs), as
                       recorded in the hardware IR when it ran
"""
import argparse
import sys
from pathlib import Path

from hwgen.board.board import load_board
from hwgen.errors import HwgenError
from hwgen.flow import Workspace, run_steps
from hwgen.spec import load_spec

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(REPO / "examples" / "digits_cnn.yaml"),
                        help="spec file (default: %(default)s)")
    parser.add_argument("--board", default="ulx3s", help="board (default: %(default)s)")
    parser.add_argument("--out", default=None, help="output directory (default: build/bench/<name>)")
    args = parser.parse_args(argv)

    def say(message):
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    try:
        spec = load_spec(args.spec)
        board = load_board(args.board)
        out = args.out or REPO / "build" / "bench" / spec.name
        workspace = Workspace.create(spec, out, say=say)
        board = workspace.clocked(board)
        run = run_steps(workspace, stop="build", board=board, clock_hz=board.clock_mhz * 1e6)
        graph, verification, build = (run.results[name] for name in ("hardware", "verify",
                                                                      "build"))
    except HwgenError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 1
    figures = {
        "cycles_ratio": f"{verification['cycles_ratio']:.4f}",
        "sim_cycles_per_s": f"{verification['sim_cycles_per_s']:.0f}",
        "luts": build["luts"],
        "ffs": build["ffs"],
        "brams": build["brams"],
        "fmax_mhz": f"{build['fmax_mhz']:.1f}",
        "accuracy": f"{verification['rtl_accuracy']:.4f}",
        "golden_accuracy": f"{verification['golden_accuracy']:.4f}",
        "rtl_golden_mismatches": verification["mismatches"],
        "expected_cycles": verification["expected_cycles"],
        "fifo_sizing_s": f"{graph.meta['fifo_sizing']['seconds']:.1f}",
    }
    if any(layer.macro is not None for layer in graph.mvtus()):
        from hwgen.golden import run_graph
        from hwgen.passes.lower import quiet
        count = verification["frames"]
        silent = run_graph(quiet(graph), graph.test_frames[:count])
        figures["quiet_accuracy"] = f"{silent.accuracy(graph.test_labels[:count]):.4f}"
    for key, value in figures.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
