"""Fmax and resources of a whole digital network on the ULX3S, placed and routed alone.

    python bench/timing.py [--clock 125] [--variant 85F] [--block NAME] [--fold NAME=PE,SIMD]
                           [--seed 1]

The network is a random-weight graph of a keyword-spotting shape (:func:`kws_graph`): a 4-bit
1x49x10 input, conv 3x3 pad 1 -> 16 channels, max-pool 2, conv 3x3 pad 1 16 -> 32, max-pool 2,
linear 768 -> 64, linear 64 -> 12 logits, label select; its MVTUs folded for at most 800 cycles
per frame. ``--fold`` refolds an MVTU (repeatable; a sliding window or max-pool next to it is
not changed, so the widths must still fit). ``--block`` places one of its blocks alone instead
(a layer's name, or ``label_select``). As in ``bench/cim_timing.py`` the design sits between LFSR-driven stimulus
(input payload, valid) and an LFSR-driven ready, its output folded into one LED, so nothing is
optimised away. Builds under ``build/bench/timing/`` with yosys / nextpnr-ecp5 / ecppack;
progress on stderr, and on stdout one ``key: value`` line per figure:

    fmax_mhz          nextpnr's Fmax of the design clock
    clock_mhz         the clock it was placed for
    met               yes / no
    luts, ffs, brams, dsps
    cycles_per_frame  the network's (or block's) expected cycles per frame
    critical_from     first and last cell of nextpnr's critical path
    critical_to
"""
import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cim_timing import TimingTop  # noqa: E402

from hwgen.board.board import load_board  # noqa: E402
from hwgen.board.build import build_bitstream  # noqa: E402
from hwgen.ops.label_select.hw import LabelSelect  # noqa: E402
from hwgen.hw.network import Network  # noqa: E402
from hwgen.ops import op_for  # noqa: E402
from hwgen.ir import Graph
from hwgen.ops import MaxPoolLayer, SWGLayer
from tests.conftest import random_layer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def kws_graph(rng) -> Graph:
    """The keyword-spotting shaped network, random weights and thresholds. MVTU cycles per
    frame: conv0 490, conv1 720, fc0 768, fc1 64; the sliding windows run one transfer of
    ``channels`` elements per cycle (conv0_swg 4410 on its one input channel, conv1_swg 1080)."""
    layers = (
        SWGLayer("conv0_swg", 1, 49, 10, 3, padding=1, elem_bits=4),
        random_layer(rng, mw=9, mh=16, pe=16, simd=9, name="conv0", in_encoding="uint",
                     in_bits=4, pixels=490),
        MaxPoolLayer("pool0", 16, 49, 10, 2, pe=16),
        SWGLayer("conv1_swg", 16, 24, 5, 3, padding=1, simd=16),
        random_layer(rng, mw=144, mh=32, pe=16, simd=48, name="conv1", pixels=120),
        MaxPoolLayer("pool1", 32, 24, 5, 2, pe=16),
        random_layer(rng, mw=768, mh=64, pe=8, simd=8, name="fc0"),
        random_layer(rng, mw=64, mh=12, pe=12, simd=1, name="fc1", logits=True),
    )
    return Graph("kws", (1, 49, 10), 12, layers, rng.integers(0, 16, (1, 490)), [0],
                 input_encoding="uint", input_bits=4)


def critical_path(log: str) -> tuple[str, str]:
    """(first source, last sink) of the design clock's last critical path report."""
    reports = re.split(r"Info: Critical path report for clock", log)
    if len(reports) < 2:
        return "n/a", "n/a"
    path = reports[-1].split("Info: Critical path report for cross-domain")[0]
    sources = re.findall(r"Source (\S+)", path)
    sinks = re.findall(r"Sink (\S+)", path)
    return (sources[0] if sources else "n/a"), (sinks[-1] if sinks else "n/a")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clock", type=float, default=125.0, help="MHz (default: %(default)s)")
    parser.add_argument("--variant", default="85F", help="ULX3S variant (default: %(default)s)")
    parser.add_argument("--block", default=None,
                        help="place only this layer's block, or label_select (default: the "
                             "whole network)")
    parser.add_argument("--fold", action="append", default=[], metavar="NAME=PE,SIMD",
                        help="refold an MVTU of the network")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr seed (default: %(default)s)")
    args = parser.parse_args(argv)

    graph = kws_graph(np.random.default_rng(0))
    changes = {}
    for fold in args.fold:
        try:
            name, folding = fold.split("=")
            pe, simd = (int(value) for value in folding.split(","))
        except ValueError:
            parser.error(f"--fold must be NAME=PE,SIMD, not {fold!r}")
        changes[name] = {"pe": pe, "simd": simd}
    try:
        graph = graph.with_layers(changes)
    except (KeyError, ValueError) as error:
        parser.error(str(error))
    board = load_board("ulx3s", variant=args.variant)
    if args.block is None:
        unit = Network(graph, target=board.target)
    elif args.block == "label_select":
        unit = LabelSelect(classes=graph.classes, pe=graph.layers[-1].pe,
                           logit_bits=graph.layers[-1].out_bits)
    else:
        layers = {layer.name: layer for layer in graph.layers}
        if args.block not in layers:
            parser.error(f"--block must be label_select or one of {', '.join(layers)}, "
                         f"not {args.block!r}")
        unit = op_for(layers[args.block]).block(layers[args.block], board.target)
    top = TimingTop(unit, board, args.clock)
    folds = "".join(f"_{name}{c['pe']}x{c['simd']}" for name, c in sorted(changes.items()))
    tag = f"{args.block or 'network'}{folds}_{args.variant}_{args.clock:g}_s{args.seed}"
    out = REPO / "build" / "bench" / "timing" / tag
    report = build_bitstream(top, board, out, name="timing", seed=args.seed,
                             progress=lambda message: print(message, file=sys.stderr))
    source, sink = critical_path((out / "timing.tim").read_text(errors="replace"))
    print(f"fmax_mhz: {report.fmax_mhz:.1f}")
    print(f"clock_mhz: {report.clock_mhz:g}")
    print(f"met: {'yes' if report.met_timing else 'no'}")
    print(f"luts: {report.luts}")
    print(f"ffs: {report.ffs}")
    print(f"brams: {report.brams}")
    print(f"dsps: {report.dsps}")
    print(f"cycles_per_frame: {unit.expected_cycles()}")
    print(f"critical_from: {source}")
    print(f"critical_to: {sink}")


if __name__ == "__main__":
    main()
