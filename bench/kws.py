"""The keyword-spotting example's figures, one ``key: value`` a line, with the issue's goals.

    python bench/kws.py [--spec examples/kws.yaml] [--board ulx3s] [--variant 85F] [--out DIR]
                        [--frames N] [--clock MHZ|spec] [--fps N] [--folding spec|free]
                        [--fit-margin F] [--placer heap|static] [--seeds 1-5]

Runs what ``hwgen build --board ulx3s examples/kws.yaml`` runs (reusing the shipped IR and
whatever is already under ``--out``, default ``build/bench/kws``): the Verilator co-simulation
with the macro's seeded noise on, then the bitstream, placed and routed for the goal's 125 MHz
(``--clock``; ``--clock spec``: the spec's ``hardware.clock_mhz``). ``--fps`` folds for that
many inferences/s at the clock with every layer's folding free (``hardware.folding: free``: the
cim layer's pe and conv2's block RAM, which the spec pins for its 800 cycles/frame, included;
``--folding spec`` keeps them). Progress goes to stderr, figures to stdout:

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
    fmax_mhz_seed<N>, seeds_met, seeds
                           with ``--seeds``: Fmax with each nextpnr seed (the same netlist,
                           placer and clock; seeds placed as many at once as there are
                           cores), and on how many of them it meets the clock
    fits                   1; 0 when no folding fits the board's part (nothing is built), and
                           then instead: device, least_cycles_per_frame, least_inferences_per_s
                           (at the board's clock), least_<r> and budget_<r> for r in luts, ffs,
                           brams, dsps (the least the folding search reached, the budget),
                           over_<r> and most_<r> (by how much, and the three layers that take
                           the most, where over), free_<r> and free_most_brams (the cheapest
                           folding at those cycles with no layer's folding fixed by the spec),
                           unused_memories (what the fit leaves out)
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
from hwgen.flow import Workspace, run_steps
from hwgen.passes.fold import (FoldingError, auto_fold, board_reserve, estimate_build,
                               largest_layers)
from hwgen.spec import load_spec
from hwgen.target import PLACERS

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


def _positive(text: str) -> float:
    """``--fps``: a positive number."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _margin(text: str) -> float:
    """``--fit-margin``: a share of the part, 0.1 .. 1 (as ``hardware.fit_margin``)."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0.1 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share in 0.1..1, got {text!r}")
    return value


def _seeds(text: str) -> list[int]:
    """``--seeds``: ``1-5`` or ``1,3,4``."""
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-"))
            seeds = list(range(first, last + 1))
        else:
            seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds as 1-5 or 1,3,4, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative seeds, got {text!r}")
    return seeds


def _seed_builds(workspace, board, build: dict, seeds, say) -> dict:
    """Fmax of the main build's netlist placed and routed with each nextpnr seed.

    The synthesized netlist is the main build's (``gateware/top.json``, the same for every
    seed); each seed runs the main build's own place and route command with only its
    ``--seed`` changed, in ``<out>/seeds/seed<N>``, as many at once as there are cores, and is
    reused while its key (the bitstream's and the seed) holds. The main build's seed is the
    main build."""
    import json
    import os
    import shutil
    import subprocess

    from hwgen.toolchain import tool_env_var
    gateware = workspace.gateware_dir
    target = board.target
    commands = json.loads((gateware / "build_top.json").read_text())["commands"]
    place = [command for command in commands if "--seed" in command]
    if len(place) != 1:
        raise HwgenError(f"{gateware / 'build_top.json'}: no single place and route command")
    place = place[0]
    main_seed = int(place[place.index("--seed") + 1])
    device = f"{board.device} ({board.package}, speed {board.speed})"
    result, pending = {}, []
    for seed in seeds:
        if seed == main_seed:
            result[seed] = build["fmax_mhz"]
            continue
        folder = workspace.root / "seeds" / f"seed{seed}"
        key = f"{build['key']}-seed{seed}"
        try:
            saved = json.loads((folder / "seed.json").read_text())
        except (OSError, ValueError):
            saved = {}
        if saved.get("key") == key:
            result[seed] = saved["fmax_mhz"]
        else:
            pending.append((seed, folder, key))
    env = target.tool_env()
    running = []
    jobs = max(1, os.cpu_count() or 1)
    while pending or running:
        while pending and len(running) < jobs:
            seed, folder, key = pending.pop(0)
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            for name in ("top.json", "top.lpf", "top.pcf"):
                if (gateware / name).is_file():
                    shutil.copy(gateware / name, folder / name)
            command = list(place)
            command[0] = env.get(tool_env_var(command[0]), command[0])
            command[command.index("--seed") + 1] = str(seed)
            say(f"seed {seed}: place and route")
            log = open(folder / "place.log", "w")
            process = subprocess.Popen(command, cwd=folder, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            running.append((process, log, seed, folder, key))
        process, log, seed, folder, key = running.pop(0)
        status = process.wait()
        log.close()
        if status != 0:
            raise HwgenError(f"seed {seed}: place and route failed (exit status {status}); "
                             f"see {folder / 'place.log'}")
        report = target.parse_report(folder / "top_report.json", clock_mhz=build["clock_mhz"],
                                     device=device)
        say(f"seed {seed}: Fmax {report.fmax_mhz} MHz")
        (folder / "seed.json").write_text(json.dumps({"key": key, "fmax_mhz": report.fmax_mhz}))
        result[seed] = report.fmax_mhz
    return dict(sorted(result.items()))


def _print_no_fit(error: FoldingError, board) -> None:
    """The figures of a network no folding fits on ``board``'s part: the least the search
    reached, the budget, by how much and where it is over, and the part's memories the fit
    does not use."""
    target, least, needed, budget = board.target, error.least, error.needed, error.budget
    cycles = least.expected_cycles()
    figures = {"fits": 0, "device": board.device,
               "least_cycles_per_frame": cycles,
               "least_inferences_per_s": board.clock_mhz * 1e6 / cycles}

    def largest(graph, field):
        return ", ".join(f"{name} {value}" for name, value in largest_layers(graph, target, field))

    need, have = dataclasses.asdict(needed), dataclasses.asdict(budget)
    figures.update({f"least_{field}": value for field, value in need.items()})
    figures.update({f"budget_{field}": value for field, value in have.items()})
    for field, value in need.items():
        if value > have[field]:
            figures[f"over_{field}"] = value - have[field]
            figures[f"most_{field}"] = largest(least, field)
    # The spec fixes some layers' folding (the cim layer's columns): the cheapest folding at
    # the same cycles with none fixed says how much of the gap that holds.
    free = auto_fold(least, target_cycles=cycles, target=target)
    free_needed = estimate_build(free, target) + board_reserve(target, board.device)
    figures.update({f"free_{field}": value
                    for field, value in dataclasses.asdict(free_needed).items()})
    figures["free_most_brams"] = largest(free, "brams")
    unused = target.unused_memories.get(board.device)
    if unused:
        figures["unused_memories"] = unused
    for key, value in figures.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(REPO / "examples" / "kws.yaml"))
    parser.add_argument("--board", default="ulx3s")
    parser.add_argument("--variant", default=None,
                        help="the board's device variant (ulx3s: 12F, 25F, 45F, 85F; default "
                             "the board file's)")
    parser.add_argument("--fps", type=_positive, default=None,
                        help="fold for this many inferences/s at the clock (the spec's "
                             "hardware.target_fps; its target_cycles dropped)")
    parser.add_argument("--folding", choices=("spec", "free"), default=None,
                        help="hardware.folding: what auto-folding may change (default: free "
                             "with --fps, else the spec's)")
    parser.add_argument("--out", default=str(REPO / "build" / "bench" / "kws"))
    parser.add_argument("--frames", type=int, default=None,
                        help="frames to co-simulate (default: the spec's verify.frames)")
    parser.add_argument("--clock", type=_clock, default=GOALS["fmax_mhz"],
                        help="MHz to place and route for (default: the goal's 125; 'spec': the "
                             "spec's hardware.clock_mhz)")
    parser.add_argument("--fit-margin", type=_margin, default=None,
                        help="the share of the part the folding may take (the spec's "
                             "hardware.fit_margin)")
    parser.add_argument("--placer", default=None, choices=PLACERS,
                        help="nextpnr's placer (the spec's hardware.placer)")
    parser.add_argument("--seeds", type=_seeds, default=None,
                        help="also place and route the same top with each of these nextpnr "
                             "seeds ('1-5' or '1,3'), each in its own folder under --out/seeds")
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
                spec.hardware, target_fps=args.fps, target_cycles=None, fit="cheapest",
                folding=args.folding or "free"))
        elif args.folding is not None:
            spec = dataclasses.replace(spec, hardware=dataclasses.replace(
                spec.hardware, folding=args.folding))
        if args.fit_margin is not None:
            spec = dataclasses.replace(spec, hardware=dataclasses.replace(
                spec.hardware, fit_margin=args.fit_margin))
        if args.placer is not None:
            spec = dataclasses.replace(spec, hardware=dataclasses.replace(
                spec.hardware, placer=args.placer))
        workspace = Workspace.create(spec, args.out, say=say)
        board = workspace.clocked(load_board(args.board, variant=args.variant))
        started = time.perf_counter()
        run = run_steps(workspace, board=board, clock_hz=board.clock_mhz * 1e6,
                        frames=args.frames)
        build_s = time.perf_counter() - started
        graph, verification, build, report = (run.results[name] for name in (
            "hardware", "verify", "build", "report"))
    except FoldingError as error:
        if error.least is None:
            print(f"bench: error: {error}", file=sys.stderr)
            return 1
        print(f"bench: {error}", file=sys.stderr)
        _print_no_fit(error, board)
        return 0
    except HwgenError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 1
    accuracy = report["golden_accuracy"]          # the golden model on the whole test set
    figures = {
        "fits": 1,
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
    if args.seeds:
        try:
            fmax = _seed_builds(workspace, board, build, args.seeds, say)
        except HwgenError as error:
            print(f"bench: error: {error}", file=sys.stderr)
            return 1
        figures.update({f"fmax_mhz_seed{seed}": value for seed, value in fmax.items()})
        figures["seeds_met"] = sum(value is not None and value >= figures["clock_mhz"]
                                   for value in fmax.values())
        figures["seeds"] = len(fmax)
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
