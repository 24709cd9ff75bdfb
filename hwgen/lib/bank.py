"""Several stream blocks behind one stream pair, one of them selected: one simulator build that
serves many shapes of a block (a Verilator build costs seconds; a run of a small block, a
fraction of one)."""
from amaranth.hdl import Module, Shape, Value, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Bank"]


def _payload_width(block, port: str) -> int:
    return Shape.cast(block.signature.members[port].signature.members["payload"].shape).width


class Bank(wiring.Component):
    """Stream blocks side by side; ``select`` connects one of them to ``i`` and ``o``.

    Parameters
    ----------
    blocks : sequence of wiring.Component
        Each with exactly the ports ``i`` (an input stream) and ``o`` (an output stream).

    Ports
    -----
    select : In(unsigned)
        The block connected; a static setting (held from reset on), not a per-cycle switch.
    i : In(stream.Signature(unsigned(max input width)))
        The selected block's input: its payload is the low bits; the others see ``valid`` low.
    o : Out(stream.Signature(unsigned(max output width)))
        The selected block's output, zero-extended; the others see ``ready`` low.

    The selection is combinational and adds no register, so the selected block's transfers
    happen in the same cycles as the block's alone.
    """

    def __init__(self, blocks):
        self.blocks = list(blocks)
        if not self.blocks:
            raise ValueError("a bank needs at least one block")
        for index, block in enumerate(self.blocks):
            ports = set(block.signature.members)
            if ports != {"i", "o"}:
                raise ValueError(f"bank block {index} must have exactly the stream ports i and "
                                 f"o, not {', '.join(sorted(ports))}")
        in_width = max(_payload_width(block, "i") for block in self.blocks)
        out_width = max(_payload_width(block, "o") for block in self.blocks)
        super().__init__({
            "select": In(unsigned(max(1, (len(self.blocks) - 1).bit_length()))),
            "i": In(stream.Signature(unsigned(in_width))),
            "o": Out(stream.Signature(unsigned(out_width))),
        })

    def index(self, block) -> int:
        """The ``select`` value of ``block`` (by identity)."""
        for index, candidate in enumerate(self.blocks):
            if candidate is block:
                return index
        raise ValueError("this block is not in the bank")

    def elaborate(self, platform):
        m = Module()
        for index, block in enumerate(self.blocks):
            m.submodules[f"block{index}"] = block
            chosen = self.select == index
            m.d.comb += [
                Value.cast(block.i.payload).eq(self.i.payload),
                block.i.valid.eq(self.i.valid & chosen),
                block.o.ready.eq(self.o.ready & chosen),
            ]
            with m.If(chosen):
                m.d.comb += [
                    self.i.ready.eq(block.i.ready),
                    self.o.valid.eq(block.o.valid),
                    self.o.payload.eq(Value.cast(block.o.payload)),
                ]
        return m
