import numpy as np
import pytest

from hwgen.cosim import run_stream_test
from hwgen.hw.fifo import StreamFIFO
from tests.streams import simulate_stream


def test_rejects_bad_depth():
    with pytest.raises(ValueError, match="depth must be a positive integer, not 0"):
        StreamFIFO(shape=8, depth=0)


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_amaranth_sim_keeps_order(depth):
    words = list(np.random.default_rng(depth).integers(0, 256, 200))
    words = [int(w) for w in words]
    assert simulate_stream(StreamFIFO(shape=8, depth=depth), words, len(words),
                           idle=0.4, backpressure=0.4) == words


@pytest.mark.cocotb
@pytest.mark.parametrize("depth", [1, 4, 17])
def test_cosim(depth, sim_build_root):
    words = [int(w) for w in np.random.default_rng(depth).integers(0, 1 << 12, 6000)]
    run = run_stream_test(StreamFIFO(shape=12, depth=depth), words, words, idle=0.3,
                          backpressure=0.4, build_root=sim_build_root, name=f"fifo_{depth}")
    assert run.passed, run.message
