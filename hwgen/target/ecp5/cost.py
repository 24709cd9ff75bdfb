"""The cost model's calibrated LUT coefficients on ECP5.

The LUT count of a block is ``sum(COEFFICIENTS[kind][term] * count)`` over the counts of
its op's cost model (:meth:`hwgen.ops.Op.terms`, ``hwgen/ops/<op>/cost.py``), in
``TRELLIS_COMB`` cells (LUT4s, and one per bit of a ``CCU2C`` carry chain). The coefficients
were fitted, per block kind, by non-negative least squares on the relative error against Yosys
``synth_ecp5`` + ``nextpnr-ecp5 --pack-only`` on MVTU, thermometer MVTU, cim MVTU, sliding
window, max-pool, average pool, VVAU, add, concat, fork, FIFO and width converter
configurations: ``python bench/estimate_calibration.py --fit`` repeats the fit and prints the
error of every configuration.
"""

__all__ = ["COEFFICIENTS", "CIM_SHARED"]

#: LUTs per unit of each term, per block kind: fitted by ``bench/estimate_calibration.py --fit``
#: (non-negative least squares on the relative error against Yosys ``synth_ecp5`` and
#: ``nextpnr-ecp5 --pack-only``), rounded; the terms marked "pinned" are held at their physical
#: value (``adder_table`` at the value a full thermometer convolution synthesises to).
COEFFICIENTS = {
    "mvtu": {
        "gate": 1.0,            # pinned; per synapse gate: XNOR, or AND and AND-NOT
        "gate_uint": 1.84,      # per bit of an integer synapse, sign-extended: x or ~x, adders
        "adder": 0.65,          # per carry-chain LUT of the adder tree of the SIMD products
        "adder_binary": 0.84,   # the same for binary inputs: the leaves' tables (per LUT4)
                                # and the tree of the leaves
        "adder_table": 2.2,     # pinned; per carry-chain LUT of the tree over thermometer
                                # table reads: Yosys makes each registered level a
                                # multi-operand adder
        "accumulate": 3.82,     # per accumulator bit: restart multiplexer, adder, output and
                                # skid registers' multiplexers
        "compare": 0.53,        # per threshold bit compared (and the threshold's invert)
        "logit": 1.0,           # pinned; per bit of 2 * popcount - MW (bipolar logits)
        "rom": 1.39,            # per ROM bit-slice of 16 words held in LUTs
        "lutram": 4.0,          # pinned; per DPR16X4 distributed RAM
        "lutram_mux": 1.0,      # pinned; per bit of a multiplexer across memory banks or words
        "replay": 1.30,         # per bit choosing the input stream or the replay buffer
        "counter": 1.0,         # pinned; per bit of the fold counters and weight address
        "control": 49.0,        # handshake and pipeline control
    },
    "cim": {   # the macro's terms; the MVTU's around it are the digital MVTU's (below)
        "cim_popcount": 2.62,   # per input bit of a read's (and the active rows') popcount
                                # with its match gates and the bitline sum
        "cim_hash": 65.5,       # per read and noise-hash stage: a 16-bit adder and xors, the
                                # key's, ZTABLE's and the scaled sample's share
        "cim_adc": 0.90,        # per bit of the ADC's comparators (and their count)
    },
    "swg": {
        "counter": 6.30,        # per bit of the reader's and writer's counters: their steps
        "data": 2.26,           # per output bit: padding, output and skid multiplexers
        "lutram": 4.0,          # pinned
        "lutram_mux": 1.10,
        "control": 4.25,
    },
    "maxpool": {
        "counter": 3.86,
        "data": 2.92,           # per channel: OR and restart, output and skid multiplexers
        "lutram": 4.0,          # pinned
        "lutram_mux": 2.03,
        "control": 4.9,
    },
    "avgpool": {
        "counter": 3.27,
        "adder": 5.77,          # per sum bit: its adder, restart, output and skid multiplexers
        "lutram": 4.0,          # pinned
        "lutram_mux": 1.93,
        "control": 0.0,
    },
    "vvau": {
        "counter": 3.97,
        "accumulate": 4.97,     # per partial-sum bit: its term, restart, adder, compare
        "product": 4.17,        # per partial-product bit of a multi-bit input times weight
        "compare": 0.08,        # per bit of a further threshold compare (act_bits > 1)
        "rom": 1.39,            # the weights and thresholds, read asynchronously
        "lutram": 4.0,          # pinned
        "lutram_mux": 0.0,
        "control": 0.0,
    },
    "fifo": {
        "bram": 88.4,           # block RAM port glue
        "counter": 0.99,        # per bit of the three pointers and level
        "data": 0.81,
        "lutram": 4.0,          # pinned
        "lutram_mux": 5.98,
        "control": 0.0,
    },
    "smvtu": {   # the shared convolution unit (hwgen/ops/smvtu/cost.py)
        "result": 1.60,         # per input bit of a distinct pattern's popcount (with its
                                # XNOR and the window's decode)
        "adder": 2.34,          # per bit an output channel's adder tree sums beyond its
                                # first term
        "compare": 0.0,         # per threshold bit compared against a constant (folded
                                # into the adder tree's last LUTs)
        "logit": 0.64,          # per bit of a dot product out
        "output": 0.0,          # per output bit
        "control": 76.6,        # handshake, window register enables
    },
    "dwc": {
        "shift": 1.057,         # per (input bit, fill level it may land at)
        "capacity": 0.227,      # per buffered bit
        "split": 1.157,         # per (buffered bit, level bit) when splitting
        "odd": 4.005,           # per buffered bit when neither width divides the other
        "control": 32.2,
    },
    "add": {
        "sum": 3.1,
        "compare": 0.8,
        "select": 0.41,
        "counter": 6.34,
        "rom": 1.59,
        "control": 3.49,
    },
    "concat": {
        "data": 1.0,
        "input": 2.63,
        "control": 4.75,
    },
    "fork": {
        "output": 3.67,
        "control": 2.86,
    },
}

#: The digital MVTU's terms that a cim MVTU (the macro's counters, accumulator, thresholds,
#: replay buffer) has too, priced as the digital MVTU's.
CIM_SHARED = ("accumulate", "compare", "rom", "lutram", "lutram_mux", "replay", "counter",
              "control")
COEFFICIENTS["cim"].update({name: COEFFICIENTS["mvtu"][name] for name in CIM_SHARED})
