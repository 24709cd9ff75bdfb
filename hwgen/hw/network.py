"""The dataflow top: the IR's layers as a chain of streaming blocks ending in a label select."""
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..ir import Graph
from .dwc import WidthConverter
from .fifo import StreamFIFO
from .label_select import LabelSelect, result_layout
from .mvtu import MVTU
from .packing import pack_words

__all__ = ["Network", "frame_words"]


def frame_words(frames: np.ndarray, width: int) -> list[list[int]]:
    """Input transfers for each frame: ``width`` bits each, the frame's bit 0 first."""
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.shape[1] % width:
        raise ValueError(f"frame of {frames.shape[1]} bits is not a multiple of width={width}")
    return [pack_words(frame, width=1, per_word=width) for frame in frames]


@dataclass(frozen=True)
class _Stage:
    name: str
    block: wiring.Component


class Network(wiring.Component):
    """A whole BNN as FINN-style streaming hardware.

    Each layer of the IR becomes an :class:`~hwgen.hw.mvtu.MVTU`; between two layers sit a
    width converter (when the producer's PE differs from the consumer's SIMD) and a
    :class:`~hwgen.hw.fifo.StreamFIFO`; a :class:`~hwgen.hw.label_select.LabelSelect` ends it.

    Parameters
    ----------
    graph : :class:`hwgen.ir.Graph`
    fifo_depth : int
        Least depth of each inter-layer FIFO. A FIFO is made deeper where needed to hold one
        frame of its consumer's input (the consumer's SF words): an MVTU reads its input only
        during its first neuron fold and replays it for the others, so with less room its
        producer stalls, or it waits for its producer, and the network runs slower than
        :meth:`expected_cycles` (FINN sizes FIFOs by simulation; this closed-form rule is
        sufficient for a chain of MVTUs and is checked against measured cycles in the tests).

    Attributes
    ----------
    i : ``In(stream.Signature(unsigned(in_width)))``
        A frame is ``input_bits / in_width`` transfers, frame bit 0 first
        (see :func:`frame_words`). ``in_width`` is the first layer's SIMD.
    o : ``Out(stream.Signature(result_layout(classes, logit_bits)))``
        One result per frame: ``label`` (argmax) and all ``logits``.
    """

    def __init__(self, graph: Graph, *, fifo_depth: int = 2):
        if not isinstance(fifo_depth, int) or fifo_depth < 1:
            raise ValueError(f"fifo_depth must be a positive integer, not {fifo_depth!r}")
        self.graph = graph
        self.fifo_depth = fifo_depth
        last = graph.layers[-1]
        self.in_width = graph.layers[0].simd
        self.logit_bits = last.out_bits
        self.transfers_per_frame = graph.input_bits // self.in_width
        super().__init__({
            "i": In(stream.Signature(unsigned(self.in_width))),
            "o": Out(stream.Signature(result_layout(graph.classes, self.logit_bits))),
        })

    def expected_cycles(self) -> int:
        """Cycles per frame in steady state: the slowest layer's NF * SF."""
        return self.graph.expected_cycles()

    def fifo_depths(self) -> list[int]:
        """Depth of the FIFO after each layer but the last."""
        return [max(self.fifo_depth, consumer.sf) for consumer in self.graph.layers[1:]]

    def stages(self) -> list[_Stage]:
        stages = []
        layers = self.graph.layers
        depths = self.fifo_depths()
        for index, layer in enumerate(layers):
            stages.append(_Stage(layer.name, MVTU(layer)))
            if index + 1 < len(layers):
                consumer = layers[index + 1]
                if layer.pe != consumer.simd:
                    stages.append(_Stage(f"{layer.name}_dwc",
                                         WidthConverter(in_width=layer.pe, out_width=consumer.simd)))
                stages.append(_Stage(f"{layer.name}_fifo",
                                     StreamFIFO(shape=unsigned(consumer.simd), depth=depths[index])))
        stages.append(_Stage("label_select", LabelSelect(
            classes=self.graph.classes, pe=layers[-1].pe, logit_bits=self.logit_bits)))
        return stages

    def elaborate(self, platform):
        m = Module()
        stages = self.stages()
        for stage in stages:
            m.submodules[stage.name] = stage.block
        wiring.connect(m, wiring.flipped(self.i), stages[0].block.i)
        for producer, consumer in zip(stages, stages[1:]):
            wiring.connect(m, producer.block.o, consumer.block.i)
        wiring.connect(m, stages[-1].block.o, wiring.flipped(self.o))
        return m

