# amaranth: UnusedElaboratable=no
"""A bank: several stream blocks behind one stream pair, one selected, so that one Verilator build
serves every shape of a test file."""
import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring

from hwgen.lib.bank import Bank
from hwgen.lib.packing import pack_words
from hwgen.ops import MaxPoolLayer
from hwgen.ops.fifo.hw import StreamFIFO
from hwgen.ops.maxpool.golden import maxpool
from hwgen.ops.maxpool.hw import MaxPool
from tests.streams import check_block_on_verilator, simulate_stream

# (channels, height, width, kernel, pe): input and output words of different widths
SHAPES = [(1, 8, 8, 2, 1), (6, 5, 5, 5, 3), (4, 7, 9, (2, 3), 2)]


class Selected(wiring.Component):
    """``bank`` with ``select`` tied to ``index``, its streams passed through."""

    def __init__(self, bank, index):
        self.bank, self.selected = bank, index
        super().__init__({"i": bank.signature.members["i"], "o": bank.signature.members["o"]})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = self.bank
        m.d.comb += self.bank.select.eq(self.selected)
        wiring.connect(m, wiring.flipped(self.i), self.bank.i)
        wiring.connect(m, self.bank.o, wiring.flipped(self.o))
        return m


def _vectors(layer, frames, seed):
    x = (np.random.default_rng(seed).random((frames, layer.in_elements)) < 0.3).astype(np.uint8)
    return (pack_words(x, width=1, per_word=layer.pe),
            pack_words(maxpool(layer, x).numpy(), width=1, per_word=layer.pe))


def test_ports_take_the_widest_block_and_reject_other_ports():
    bank = Bank([MaxPool(MaxPoolLayer("p", *shape)) for shape in SHAPES])
    assert len(bank.i.payload) == 3 and len(bank.o.payload) == 3 and len(bank.select) == 2
    assert bank.index(bank.blocks[2]) == 2
    with pytest.raises(ValueError, match="not in the bank"):
        bank.index(MaxPool(MaxPoolLayer("p", *SHAPES[0])))
    with pytest.raises(ValueError, match="at least one block"):
        Bank([])

    class Extra(wiring.Component):
        def __init__(self):
            fifo = StreamFIFO(shape=4, depth=2)
            super().__init__({**fifo.signature.members, "flush": wiring.In(1)})

    with pytest.raises(ValueError, match="exactly the stream ports i and o, not flush, i, o"):
        Bank([StreamFIFO(shape=4, depth=2), Extra()])


@pytest.mark.parametrize("index", range(len(SHAPES)))
def test_the_selected_block_alone_answers(index):
    """Each selection, in Amaranth's simulator, gives that block's golden outputs (the others'
    would differ: the shapes' outputs differ in count and width)."""
    bank = Bank([MaxPool(MaxPoolLayer("p", *shape)) for shape in SHAPES])
    layer = bank.blocks[index].layer
    inputs, expected = _vectors(layer, 3, seed=index)
    assert simulate_stream(Selected(bank, index), inputs, len(expected), idle=0.3,
                           backpressure=0.4, seed=index) == expected


def test_a_run_needs_a_select_exactly_for_a_bank(tmp_path):
    from hwgen.cosim import check_select
    bank = Bank([StreamFIFO(shape=4, depth=2)])
    with pytest.raises(ValueError, match="select is needed exactly"):
        check_select(bank, None)
    with pytest.raises(ValueError, match="select is needed exactly"):
        check_select(bank.blocks[0], 0)
    assert check_select(bank, 0) == 0
    with pytest.raises(ValueError, match="select must fit 1 bits, not 2"):
        check_select(bank, 2)


@pytest.mark.cocotb
def test_one_build_serves_every_block(tmp_path):
    """Every block of a bank passes the block checks on Verilator (stress, full rate equal to
    its own ``expected_cycles()``, a corrupted expectation caught, the cocotb testbench) from
    one harness build and one cocotb build."""
    bank = Bank([MaxPool(MaxPoolLayer("p", *shape)) for shape in SHAPES])
    for block in bank.blocks:
        frames = 12
        inputs, expected = _vectors(block.layer, frames, seed=7)
        check_block_on_verilator(block, inputs, expected, frames, tmp_path, corrupt=True,
                                 bank=bank)
    # Another block selected does not answer for this one.
    from hwgen.harness import run_harness
    inputs, expected = _vectors(bank.blocks[0].layer, 4, seed=7)
    assert not run_harness(bank, inputs, expected, build_root=tmp_path, name="other",
                           select=1, timeout_cycles=2000).passed
    builds = [path.name for path in tmp_path.iterdir() if path.is_dir()]
    assert len(builds) == 2 and sum(name.startswith("harness-") for name in builds) == 1
