"""The cost model's calibrated LUT coefficients on iCE40.

The LUT count of a block is ``sum(COEFFICIENTS[kind][term] * count)`` over the counts of its
op's cost model (:meth:`hwgen.ops.Op.terms`, ``hwgen/ops/<op>/cost.py``), in ``ICESTORM_LC``
logic cells (a LUT4 with its carry and its flip-flop: a flip-flop fed by no LUT of its own
takes a cell too, which the coefficients absorb). The coefficients were fitted, per block
kind, by non-negative least squares on the relative error against Yosys ``synth_ice40`` +
``nextpnr-ice40 --pack-only`` on the MVTU, thermometer MVTU, cim MVTU, sliding window,
max-pool, average pool, VVAU, add, concat, fork, FIFO and width converter configurations of
``bench/estimate_calibration.py`` that fit an iCE40UP5K: ``python bench/estimate_calibration.py --target ice40 --fit`` repeats the fit
and prints the error of every configuration. The family has no distributed RAM (no
``lutram`` term occurs) and its multipliers are logic (``cim_scale``, ``multiply``).
"""

__all__ = ["COEFFICIENTS", "CIM_SHARED"]

#: Logic cells per unit of each term, per block kind: fitted by
#: ``bench/estimate_calibration.py --target ice40 --fit``, rounded; the terms marked "pinned"
#: are held at one cell each (too few configurations tell them apart from the others).
COEFFICIENTS = {
    "mvtu": {
        "gate": 1.0,            # pinned
        "gate_uint": 1.0,
        "adder": 0.935,
        "adder_binary": 1.233,
        "adder_table": 2.82,
        "accumulate": 0.0,      # with compare and control: the fit cannot tell them apart
        "compare": 3.066,
        "logit": 1.0,           # pinned
        "rom": 1.356,
        "lutram": 0.0,          # never occurs
        "lutram_mux": 1.0,      # pinned
        "replay": 4.947,
        "counter": 1.0,         # pinned
        "control": 102.3,
    },
    "cim": {   # the macro's terms; the MVTU's around it are the digital MVTU's (below)
        "cim_popcount": 3.644,
        "cim_hash": 0.0,        # with cim_scale (both per read): the fit puts it all there
        "cim_adc": 0.819,
        "cim_scale": 6.1,
    },
    "swg": {
        "counter": 5.591,
        "data": 1.575,
        "lutram": 0.0,          # never occurs
        "lutram_mux": 3.621,
        "control": 13.27,
    },
    "maxpool": {
        "counter": 6.015,
        "data": 2.13,
        "lutram": 0.0,          # never occurs
        "lutram_mux": 2.017,
        "multiply": 0.0,
        "control": 16.91,
    },
    "avgpool": {
        "counter": 10.84,
        "adder": 3.588,
        "lutram": 0.0,          # never occurs
        "lutram_mux": 1.813,
        "multiply": 1.207,
        "control": 0.0,
    },
    "vvau": {
        "counter": 5.3,
        "accumulate": 4.12,
        "product": 2.86,
        "compare": 1.21,
        "rom": 0.0,
        "lutram": 0.0,          # never occurs
        "lutram_mux": 2.21,
        "multiply": 3.73,
        "control": 0.0,
    },
    "fifo": {
        "bram": 30.33,
        "counter": 1.774,
        "data": 0.709,
        "lutram": 0.0,          # never occurs
        "lutram_mux": 2.123,
        "control": 0.0,
    },
    "smvtu": {   # not yet fitted on iCE40: ECP5's (bench/estimate_calibration.py
                 # --target ice40 --only smvtu --fit)
        "result": 1.60,
        "adder": 2.34,
        "compare": 0.0,
        "logit": 0.64,
        "output": 0.0,
        "control": 76.6,
    },
    "dwc": {
        "shift": 1.031,
        "capacity": 0.402,
        "split": 0.162,
        "odd": 0.379,
        "control": 19.0,
    },
    "add": {
        "sum": 3.15,
        "compare": 1.14,
        "select": 0.48,
        "counter": 2.48,
        "rom": 1.88,
        "control": 6.57,
    },
    "concat": {
        "data": 2.0,
        "input": 1.74,
        "control": 6.53,
    },
    "fork": {
        "output": 4.8,
        "control": 2.59,
    },
}

#: The digital MVTU's terms that a cim MVTU (the macro's counters, accumulator, thresholds,
#: replay buffer) has too, priced as the digital MVTU's.
CIM_SHARED = ("accumulate", "compare", "rom", "lutram", "lutram_mux", "replay", "counter",
              "control")
COEFFICIENTS["cim"].update({name: COEFFICIENTS["mvtu"][name] for name in CIM_SHARED})
