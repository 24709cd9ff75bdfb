"""Generic cocotb testbench for a block with input stream ``i`` and output stream ``o``.

Vectors come from the JSON file named by ``HWGEN_VECTORS`` (written by
:func:`hwgen.cosim.run_stream_test`): input words, expected output words, idle and backpressure
probabilities, a seed and a cycle limit. The test fails on the first output that differs from
its expectation, on any output beyond the expected ones, and on a timeout. What it saw is
written to the ``observed`` file for the caller (cycle stamps give cycles per frame).
With ``stop_on_mismatch`` false the run goes on and counts mismatching outputs instead.
"""
import json
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from stream import StreamSink, StreamSource

# Cycles to keep watching after the last expected output, to catch extra outputs.
_DRAIN_CYCLES = 32


@cocotb.test()
async def stream_matches_golden(dut):
    config = json.loads(open(os.environ["HWGEN_VECTORS"]).read())
    expected = [int(word) for word in config["expected"]]
    rng = random.Random(config["seed"])
    source = StreamSource(dut, "i__", [int(w) for w in config["inputs"]],
                          idle=config["idle"], rng=rng)
    sink = StreamSink(dut, "o__", backpressure=config["backpressure"], rng=rng)

    if config.get("select") is not None:   # a bank: which block, held from reset on
        dut.select.value = config["select"]
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    stop_on_mismatch = config.get("stop_on_mismatch", True)
    outputs, stamps = [], []
    mismatches = 0
    first_mismatch = None
    message = "ok"
    cycle = 0
    drain = 0
    start = time.perf_counter()
    while True:
        await RisingEdge(dut.clk)
        source.drive()
        sink.drive()
        await ReadOnly()
        source.sample()
        word = sink.sample()
        if word is not None:
            index = len(outputs)
            outputs.append(word)
            stamps.append(cycle)
            if index >= len(expected):
                message = f"unexpected output #{index} = {word:#x} after all {len(expected)} expected"
                break
            if word != expected[index]:
                mismatches += 1
                if first_mismatch is None:
                    first_mismatch = (f"output #{index} at cycle {cycle}: got {word:#x}, "
                                      f"expected {expected[index]:#x}")
                if stop_on_mismatch:
                    break
        cycle += 1
        if len(outputs) == len(expected):
            drain += 1
            if drain > _DRAIN_CYCLES:
                break
        if cycle >= config["timeout_cycles"]:
            message = (f"timeout after {cycle} cycles: {len(outputs)} of {len(expected)} outputs, "
                       f"{source.index} of {len(source.words)} inputs accepted")
            break
    wall = time.perf_counter() - start
    if first_mismatch is not None and message == "ok":
        message = first_mismatch if mismatches == 1 else f"{mismatches} mismatches, first {first_mismatch}"
    passed = message == "ok"
    with open(config["observed"], "w") as file:
        json.dump({"passed": passed, "message": message, "mismatches": mismatches, "outputs": [str(w) for w in outputs],
                   "output_cycles": stamps, "cycles": cycle, "wall_s": wall}, file)
    assert passed, message
