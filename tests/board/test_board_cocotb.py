# amaranth: UnusedElaboratable=no
"""The UART board core with a real (random) network from the IR, on Verilator, driven through
its ``rx``/``tx`` pins by cocotbext-uart (testbench ``sim/tb_board.py``): the info answer,
frames against the golden model (class and every logit), resynchronisation after noise and a
cut frame, a bad CRC, and the button's ROM pass with a serial frame in the middle. A corrupted
expectation is reported as exactly that one mismatch."""
import numpy as np
import pytest

from hwgen.board import protocol
from hwgen.board.top import BoardCore
from hwgen.cosim import run_testbench
from hwgen.golden import run_graph
from hwgen.hw.network import Network
from hwgen.ir import Graph
from hwgen.target import target
from tests.conftest import random_layer

pytestmark = pytest.mark.cocotb

CLOCK_NS = 10
DIVISOR = 8                  # 12.5 Mbaud at 100 MHz: fast to simulate, an integer bit time
FRAMES = 6
ROM_FRAMES = 3


def small_graph() -> Graph:
    """8-bit features (so frames need byte stuffing) -> 8 bipolar neurons -> 4 logits."""
    rng = np.random.default_rng(11)
    layers = (random_layer(rng, mw=12, mh=8, pe=2, simd=3, name="fc0", in_encoding="uint",
                           in_bits=8),
              random_layer(rng, mw=8, mh=4, pe=2, simd=4, name="fc1", logits=True))
    frames = rng.integers(0, 256, (FRAMES, 12))
    frames[0, :3] = [protocol.SYNC, protocol.ESC, 0]
    frames[1, -1] = protocol.SYNC
    graph = Graph("board", (12, 1, 1), 4, layers, frames, rng.integers(0, 4, FRAMES),
                  input_encoding="uint", input_bits=8)
    # Thresholds at each neuron's median dot product over the frames, so the hidden bits
    # (and the classes) differ from frame to frame.
    dots = run_graph(graph).dots[0].reshape(FRAMES, -1)
    return graph.with_layers({"fc0": {"thresholds": np.median(dots, axis=0).astype(np.int64)}})


@pytest.fixture(scope="module")
def design():
    graph = small_graph()
    golden = run_graph(graph)
    assert len(set(golden.labels)) > 1

    def core():
        network = Network(graph, fifo_depth=2)
        return BoardCore(network=network,
                         words=network.input_words(graph.test_frames[:ROM_FRAMES]),
                         transfers_per_frame=network.transfers_per_frame,
                         labels=[int(label) for label in golden.labels[:ROM_FRAMES]],
                         input_bits=graph.input_bits, divisor=DIVISOR,
                         bank_depth=target("ecp5").rom_bank_depth(len(network.i.payload)),
                         heartbeat_cycles=1000,
                         rom_interval=1500, network_id=protocol.network_id(graph))

    info = protocol.info_for(graph, logit_bits=Network(graph).logit_bits)
    config = {
        "clock_ns": CLOCK_NS, "baud": round(1e9 / (CLOCK_NS * DIVISOR)),
        "input_bits": graph.input_bits, "timeout_cycles": 4000,
        "info": {name: getattr(info, name) for name in
                 ("elements", "input_bits", "classes", "logit_bytes", "network_id", "version")},
        "frames": graph.test_frames.tolist(),
        "labels": golden.labels.tolist(), "logits": golden.logits.tolist(),
    }
    return core, config, golden


def test_board_core_answers_over_uart(design, sim_build_root):
    core, config, golden = design
    passed, seen = run_testbench(core(), "tb_board", {**config, "scenarios": [
        "info", "frames", "resync", "rom"]}, build_root=sim_build_root, name="board_all")
    assert seen["info_ok"], seen["info"]
    assert seen["frames_answered"] == FRAMES and seen["mismatches"] == []
    assert seen["resync_ok"], seen["resync"]
    assert seen["rom_started"] and seen["rom_serial_ok"] and seen["rom_running_after_serial"]
    assert seen["rom_verdict"] == "pass" and seen["rom_done"]
    assert seen["dropped"] == 0
    assert passed
    print(f"\n{seen['cycles']} cycles in {seen['wall_s']:.1f} s")


def test_a_wrong_logit_is_reported(design, sim_build_root):
    core, config, golden = design
    logits = golden.logits.tolist()
    logits[4][1] += 1
    passed, seen = run_testbench(core(), "tb_board", {**config, "logits": logits,
                                                      "scenarios": ["frames"]},
                                 build_root=sim_build_root, name="board_corrupt")
    assert not passed
    assert seen["mismatches"] == [f"frame 4: logit 1 is {golden.logits[4][1]}, golden "
                                  f"{golden.logits[4][1] + 1}"]
