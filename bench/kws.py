"""The keyword-spotting example's figures, one ``key: value`` a line, with the issue's goals.

    python bench/kws.py [--spec examples/kws.yaml] [--board ulx3s] [--variant 85F] [--out DIR]
                        [--frames N] [--clock MHZ|spec] [--fps N]

Runs what ``hwgen build --board ulx3s examples/kws.yaml`` runs (reusing the shipped IR and
whatever is already under ``--out``, default ``build/bench/kws``): the Verilator co-simulation
with the macro's seeded noise on, then the bitstream, placed and routed for the goal's 125 MHz
(``--clock``; ``--clock spec``: the spec's ``hardware.clock_mhz``). Progress goes to stderr,
figures to stdout:

    inferences_per_s       Fmax / expected cycles per frame (the design at its post-route Fmax)
    fmax_mhz               post-route Fmax of the design clock
    clock_mhz              the clock it was placed and routed for
    luts, ffs, brams, dsps ECP5 TRELLIS_COMB, TRELLIS_FF, DP16KD, MULT18X18D of the board top
    cycles_ratio           measured / expected cycles per frame (full-rate co-simulation)
    accuracy               golden model (as the RTL computes it, seeded noise on), whole test set
    rtl_accuracy           the RTL's on the co-simulated frames
    golden_frames_accuracy the golden model's on those same frames
    rtl_golden_mismatches  co-simulated frames whose class or logits differ from golden
    verified_frames        how many frames were co-simulated
    estimated_luts, estimated_brams
                           the cost model's estimate of the built network (sized FIFOs, the
                           board top's demo ROM; not its UART and control logic)
    estimate_lut_error, estimate_bram_error
                           estimated / placed - 1: what the auto-folder's device fit errs by
    build_s                wall seconds of the whole run (what ``hwgen build`` takes with
                           what ``--out`` already holds: a fresh folder for a fresh build)
    step_<name>_s          each step's wall seconds (``step_hardware_s``: folding and FIFO
                           sizing; ``step_build_s``: synthesis, place and route)
    fifo_sizing_s          the FIFO sizing's seconds when it ran (kept with the hardware IR)
    met_*                  1 when a goal holds: >= 150,000 inferences/s (``--fps``: that many),
                           Fmax >= 125 MHz, Fmax >= the clock placed for (``met_clock``),
                           cycles ratio <= 1.02, accuracy >= 0.90, no mismatch
"""
import argparse
import dataclasses
import sys
import time
from pathlib import Path

from hwgen.board.board import load_board
from hwgen.errors import HwgenError
from hwgen.estimate import estimate_build
from hwgen.flow import Workspace, run_steps
from hwgen.passes.fold import board_reserve
from hwgen.spec import load_spec

REPO = Path(__file__).resolve().parent.parent

GOALS = {"inferences_per_s": 150_000, "fmax_mhz": 125.0, "cycles_ratio": 1.02, "accuracy": 0.90}


def _clock(text: str) -> float | str:
    """``--clock``: MHz, or ``spec``."""
    if text == "spec":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MHz or 'spec', got {text!r}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(REPO / "examples" / "kws.yaml"))
    parser.add_argument("--board", default="ulx3s")
    parser.add_argument("--variant", default=None,
                        help="the board's device variant (ulx3s: 12F, 25F, 45F, 85F; default "
                             "the board file's)")
    parser.add_argument("--fps", type=float, default=None,
                        help="fold for this many inferences/s at the clock (the spec's "
                             "hardware.target_fps; its target_cycles dropped)")
    parser.add_argument("--out", default=str(REPO / "build" / "bench" / "kws"))
    parser.add_argument("--frames", type=int, default=None,
                        help="frames to co-simulate (default: the spec's verify.frames)")
    parser.add_argument("--clock", type=_clock, default=GOALS["fmax_mhz"],
                        help="MHz to place and route for (default: the goal's 125; 'spec': the "
                             "spec's hardware.clock_mhz)")
    parser.add_argument("--fit-margin", type=float, default=None,
                        help="the share of the part the folding may take (the spec's "
                             "hardware.fit_margin)")
    args = parser.parse_args(argv)

    def say(message):
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    try:
        spec = load_spec(args.spec)
        if args.clock != "spec":
            spec = dataclasses.replace(
                spec, hardware=dataclasses.replace(spec.hardware, clock_mhz=args.clock))
        if args.fps is not None:
            spec = dataclasses.replace(spec, hardware=dataclasses.replace(
                spec.hardware, target_fps=args.fps, target_cycles=None, fit="cheapest"))
        if args.fit_margin is not None:
            spec = dataclasses.replace(spec, hardware=dataclasses.replace(
                spec.hardware, fit_margin=args.fit_margin))
        workspace = Workspace.create(spec, args.out, say=say)
        board = workspace.clocked(load_board(args.board, variant=args.variant))
        started = time.perf_counter()
        run = run_steps(workspace, board=board, clock_hz=board.clock_mhz * 1e6,
                        frames=args.frames)
        build_s = time.perf_counter() - started
        graph, verification, build, report = (run.results[name] for name in (
            "hardware", "verify", "build", "report"))
    except HwgenError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 1
    accuracy = report["golden_accuracy"]          # the golden model on the whole test set
    figures = {
        "inferences_per_s": build["fmax_mhz"] * 1e6 / graph.expected_cycles(),
        "fmax_mhz": build["fmax_mhz"],
        "clock_mhz": build["clock_mhz"],
        "luts": build["luts"], "ffs": build["ffs"], "brams": build["brams"],
        "dsps": build["dsps"],
        "cycles_ratio": verification["cycles_ratio"],
        "accuracy": accuracy,
        "rtl_accuracy": verification["rtl_accuracy"],
        "golden_frames_accuracy": verification["golden_accuracy"],
        "rtl_golden_mismatches": verification["mismatches"],
        "verified_frames": verification["frames"],
    }
    estimated = estimate_build(graph, board.target) + board_reserve(board.target, board.device)
    figures.update({
        "estimated_luts": estimated.luts, "estimated_brams": estimated.brams,
        "estimate_lut_error": estimated.luts / max(1, build["luts"]) - 1,
        "estimate_bram_error": estimated.brams / max(1, build["brams"]) - 1,
        "build_s": build_s,
        **{f"step_{name}_s": seconds for name, seconds in run.seconds.items()},
        "fifo_sizing_s": float(graph.meta.get("fifo_sizing", {}).get("seconds", 0.0)),
    })
    for key, value in figures.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    goal_fps = args.fps if args.fps is not None else GOALS["inferences_per_s"]
    met = {"inferences_per_s": figures["inferences_per_s"] >= goal_fps,
           "fmax_mhz": figures["fmax_mhz"] >= GOALS["fmax_mhz"],
           "clock": figures["fmax_mhz"] >= figures["clock_mhz"],
           "cycles_ratio": figures["cycles_ratio"] <= GOALS["cycles_ratio"],
           "accuracy": figures["accuracy"] >= GOALS["accuracy"],
           "rtl_golden_mismatches": figures["rtl_golden_mismatches"] == 0}
    for key, value in met.items():
        print(f"met_{key}: {int(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
