"""Fmax and resources of one CIM-backed MVTU on the ULX3S, placed and routed alone.

    python bench/cim_timing.py [--clock 125] [--mw 64] [--mh 64] [--pe 8] [--wordlines 16]
                               [--adc-bits 4] [--noise cell] [--sigma 0.5] [--weight-bits 1]
                               [--act-bits 1] [--encoding binary] [--variant 85F]

The layer (random weight codes and thresholds, the spec's macro) sits between LFSR-driven
stimulus (input payload, valid) and an LFSR-driven ready, its output payload folded into one
LED, so nothing is optimised away and every path of the unit is timed as in a network. Builds
under ``build/bench/cim_timing/`` with yosys / nextpnr-ecp5 / ecppack; progress on stderr, and
on stdout one ``key: value`` line per figure:

    fmax_mhz     nextpnr's Fmax of the design clock
    clock_mhz    the clock it was placed for
    met_timing   yes / no
    luts, ffs, dsps, brams
    latency      the macro's read latency (en cycles)
    reads_per_cycle
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from amaranth.hdl import ClockDomain, Elaboratable, Module, Signal, Value
from amaranth.lib import io

from hwgen.board.board import load_board
from hwgen.board.build import build_bitstream
from hwgen.cim import MacroSpec
from hwgen.ops import MVTULayer
from hwgen.ops.mvtu.datapath import macro_latency
from hwgen.ops.mvtu.hw import MVTU
from hwgen.target.ecp5.pll import SyncClock

REPO = Path(__file__).resolve().parent.parent


def _lfsr(m: Module, width: int, seed: int, name: str) -> Signal:
    """A Galois LFSR (x^32 + x^22 + x^2 + x + 1 taps) of ``width`` bits, stepped every cycle;
    wider than 32 bits by concatenating shifted copies of several."""
    words = []
    for k in range((width + 31) // 32):
        state = Signal(32, init=(seed * 0x9E3779B9 + k * 0x7F4A7C15) & 0xFFFFFFFF | 1,
                       name=f"{name}{k}")
        feedback = state[0]
        m.d.sync += state.eq((state >> 1) ^ (feedback * 0x80200003))
        words.append(state)
    value = Signal(width, name=name)
    bits = [word[b] for word in words for b in range(32)]
    m.d.comb += [value[b].eq(bits[b]) for b in range(width)]
    return value


class TimingTop(Elaboratable):
    def __init__(self, unit, board, clock_mhz):
        self.unit = unit
        self.board = board
        self.clock = SyncClock(oscillator_mhz=board.oscillator_mhz, clock_mhz=clock_mhz)

    @property
    def clock_mhz(self):
        return self.clock.clock_mhz

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.clock = self.clock
        m.submodules.unit = unit = self.unit
        width = len(Value.cast(unit.i.payload))       # a View's len() counts its elements
        stimulus = _lfsr(m, width + 2, 1, "stimulus")
        m.d.comb += [unit.i.payload.eq(stimulus[:width]), unit.i.valid.eq(stimulus[width]),
                     unit.o.ready.eq(stimulus[width + 1])]
        folded = Signal()
        with m.If(unit.o.valid & unit.o.ready):
            m.d.sync += folded.eq(folded ^ Value.cast(unit.o.payload).xor())
        port = platform.request(self.board.led, 0, dir="-")
        m.submodules.led = led = io.Buffer("o", port)
        m.d.comb += led.o.eq(folded)
        return m


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clock", type=float, default=125.0, help="MHz (default: %(default)s)")
    parser.add_argument("--mw", type=int, default=64)
    parser.add_argument("--mh", type=int, default=64)
    parser.add_argument("--pe", type=int, default=8)
    parser.add_argument("--wordlines", type=int, default=16)
    parser.add_argument("--adc-bits", type=int, default=4)
    parser.add_argument("--noise", default="cell", choices=["none", "read", "cell"])
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--weight-bits", type=int, default=1)
    parser.add_argument("--act-bits", type=int, default=1)
    parser.add_argument("--encoding", default="binary", choices=["binary", "bipolar"])
    parser.add_argument("--logits", action="store_true", help="emit code sums, no thresholds")
    parser.add_argument("--variant", default="85F")
    args = parser.parse_args(argv)

    macro = MacroSpec(wordlines=args.wordlines, adc_bits=args.adc_bits, noise=args.noise,
                      sigma=args.sigma, weight_bits=args.weight_bits, act_bits=args.act_bits,
                      encoding=args.encoding, seed=1)
    rng = np.random.default_rng(0)
    weights = rng.integers(0, 1 << macro.weight_bits, (args.mh, args.mw))
    encoding = macro.encoding if macro.act_bits == 1 else "uint"
    shape = dict(in_encoding=encoding, in_bits=macro.act_bits, macro=macro, macro_key=1)
    layer = MVTULayer("cim", args.mw, args.mh, args.pe, macro.wordlines, weights, **shape)
    if not args.logits:
        high = layer.dot_range[1]
        layer = MVTULayer("cim", args.mw, args.mh, args.pe, macro.wordlines, weights,
                          rng.integers(high // 3, 2 * high // 3 + 1, args.mh),
                          np.zeros(args.mh, dtype=bool), **shape)
    board = load_board("ulx3s", variant=args.variant)
    unit = MVTU(layer, target=board.target)
    top = TimingTop(unit, board, args.clock)
    tag = (f"mw{args.mw}_mh{args.mh}_pe{args.pe}_wl{args.wordlines}_adc{args.adc_bits}_"
           f"{args.noise}_w{args.weight_bits}a{args.act_bits}_{args.encoding}_{args.clock:g}")
    out = REPO / "build" / "bench" / "cim_timing" / tag
    report = build_bitstream(top, board, out, name="cim",
                             progress=lambda message: print(message, file=sys.stderr))
    print(f"fmax_mhz: {report.fmax_mhz:.1f}")
    print(f"clock_mhz: {report.clock_mhz:g}")
    print(f"met_timing: {'yes' if report.met_timing else 'no'}")
    print(f"luts: {report.luts}")
    print(f"ffs: {report.ffs}")
    print(f"dsps: {report.dsps}")
    print(f"brams: {report.brams}")
    print(f"latency: {macro_latency(macro)}")
    print(f"reads_per_cycle: {args.pe * macro.weight_bits * macro.act_bits}")


if __name__ == "__main__":
    main()
