"""The dataflow top: the IR's layers as a chain of streaming blocks ending in a label select."""
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..ir import Graph, MVTULayer, SWGLayer
from .dwc import WidthConverter
from .fifo import StreamFIFO
from .label_select import LabelSelect, result_layout
from .maxpool import MaxPool
from .mvtu import MVTU
from .packing import pack_words
from .swg import SlidingWindow

__all__ = ["Network", "default_fifo_depths", "frame_words", "block_for", "input_transfer",
           "output_transfer", "tap_signature", "LEVEL_BITS"]

#: Bits per FIFO in the ``levels`` port of a monitored network.
LEVEL_BITS = 16

#: The hardware block of each IR op.
_BLOCKS = {"mvtu": MVTU, "swg": SlidingWindow, "maxpool": MaxPool}


def block_for(layer) -> wiring.Component:
    """The streaming block that implements ``layer``."""
    return _BLOCKS[layer.op](layer)


def frame_words(frames: np.ndarray, *, bits: int, per_word: int) -> list[list[int]]:
    """Input transfers for each frame: ``per_word`` elements of ``bits`` bits each, the
    frame's element 0 first (at bit 0)."""
    frames = np.asarray(frames)
    if frames.shape[1] % per_word:
        raise ValueError(f"frame of {frames.shape[1]} elements is not a multiple of "
                         f"per_word={per_word}")
    return [pack_words(frame, width=bits, per_word=per_word) for frame in frames]


def input_transfer(layer) -> tuple[int, int]:
    """(elements, bits per element) of one input transfer."""
    if isinstance(layer, MVTULayer):
        return layer.simd_elements, layer.in_bits
    if isinstance(layer, SWGLayer):
        return layer.simd, layer.elem_bits
    return layer.pe, layer.elem_bits


def output_transfer(layer) -> tuple[int, int]:
    """(elements, bits per element) of one output transfer."""
    if isinstance(layer, MVTULayer):
        return layer.pe, layer.out_bits
    if isinstance(layer, SWGLayer):
        return layer.simd, layer.elem_bits
    return layer.pe, layer.elem_bits


def tap_signature(layer) -> wiring.Signature:
    """A copy of ``layer``'s output stream handshake and payload (all outputs: it only watches)."""
    count, bits = output_transfer(layer)
    return wiring.Signature({"payload": Out(unsigned(count * bits)), "valid": Out(1),
                             "ready": Out(1)})


def _min_depth(consumer) -> int:
    """Least FIFO depth in front of ``consumer`` for it to run at full rate by itself: an MVTU
    reads an input vector (SF transfers) only during its first neuron fold and replays it for
    the others, so its producer must be able to deposit the next vector meanwhile."""
    return consumer.sf if isinstance(consumer, MVTULayer) else 1


def default_fifo_depths(graph: Graph, fifo_depth: int) -> list[int]:
    """The fixed rule, without sizing: ``fifo_depth``, and at least one input vector in front
    of an MVTU."""
    return [max(fifo_depth, _min_depth(consumer)) for consumer in graph.layers[1:]]


@dataclass(frozen=True)
class _Stage:
    name: str
    block: wiring.Component


class Network(wiring.Component):
    """A whole BNN as FINN-style streaming hardware.

    Each layer of the IR becomes its block (:func:`block_for`: sliding window, MVTU, max-pool);
    between two layers sit a width converter (where the producer's transfer width differs from
    the consumer's) and a :class:`~hwgen.hw.fifo.StreamFIFO`; a
    :class:`~hwgen.hw.label_select.LabelSelect` ends the chain.

    Parameters
    ----------
    graph : :class:`hwgen.ir.Graph`
    fifo_depth : int
        Least depth of each inter-layer FIFO when the graph carries no sized depths
        (``graph.fifo_depths``, see :mod:`hwgen.fifo_sizing`); then a FIFO in front of an MVTU is
        made at least one input vector (SF transfers) deep.
    monitor : bool
        Add the ``levels`` and ``limits`` ports, ``LEVEL_BITS`` bits per FIFO (the FIFO after
        layer 0 in the lowest bits): ``levels`` holds the most entries each FIFO has held since
        reset; each FIFO accepts input only while it holds fewer than its ``limits`` entries, so
        it acts as a FIFO of that depth. Used to size FIFOs by simulation (one build, many runs).
    taps : bool
        Add a ``tap<k>`` port per layer ``k`` (:func:`tap_signature`): its output stream's
        ``payload``, ``valid`` and ``ready``, as the next stage sees them. The logic is the same;
        the diagnosis of a mismatch (:mod:`hwgen.verify`) records each layer's transfers from them.

    Attributes
    ----------
    i : ``In(stream.Signature(unsigned(in_width)))``
        A frame is ``transfers_per_frame`` transfers of ``in_elements`` input elements of
        ``graph.input_bits`` bits, element 0 first (see :meth:`input_words`).
    o : ``Out(stream.Signature(result_layout(classes, logit_bits)))``
        One result per frame: ``label`` (argmax) and all ``logits``.
    levels : ``Out(unsigned(LEVEL_BITS * (len(graph.layers) - 1)))``, with ``monitor`` only.
    limits : ``In(unsigned(LEVEL_BITS * (len(graph.layers) - 1)))``, with ``monitor`` only.
    tap<k> : ``Out(tap_signature(graph.layers[k]))``, with ``taps`` only. Layer ``k``'s output
        transfers (``valid & ready``) carry ``output_transfer(layer)`` elements each, packed as
        :func:`hwgen.hw.packing.pack_words` packs them.
    """

    def __init__(self, graph: Graph, *, fifo_depth: int = 2, monitor: bool = False,
                 taps: bool = False):
        if not isinstance(fifo_depth, int) or fifo_depth < 1:
            raise ValueError(f"fifo_depth must be a positive integer, not {fifo_depth!r}")
        self.graph = graph
        self.fifo_depth = fifo_depth
        self.monitor = monitor
        self.taps = taps
        first = graph.layers[0]
        self.in_elements, elem_bits = input_transfer(first)
        if elem_bits != graph.input_bits:
            raise ValueError(f"layer {first.name!r} takes {elem_bits}-bit elements, but the "
                             f"graph's input has {graph.input_bits}")
        self.in_width = self.in_elements * elem_bits
        self.logit_bits = graph.layers[-1].out_bits
        self.transfers_per_frame = graph.input_elements // self.in_elements
        members = {
            "i": In(stream.Signature(unsigned(self.in_width))),
            "o": Out(stream.Signature(result_layout(graph.classes, self.logit_bits))),
        }
        if monitor:
            width = LEVEL_BITS * max(1, len(graph.layers) - 1)
            members["levels"] = Out(unsigned(width))
            members["limits"] = In(unsigned(width))
        if taps:
            for index, layer in enumerate(graph.layers):
                members[f"tap{index}"] = Out(tap_signature(layer))
        super().__init__(members)

    def expected_cycles(self) -> int:
        """Cycles per frame in steady state: the slowest layer's."""
        return self.graph.expected_cycles()

    def input_words(self, frames) -> list[int]:
        """The input transfers of ``frames`` (N, input elements), frame after frame."""
        return [word for frame in frame_words(frames, bits=self.graph.input_bits,
                                              per_word=self.in_elements) for word in frame]

    def fifo_depths(self) -> list[int]:
        """Depth of the FIFO after each layer but the last."""
        if self.graph.fifo_depths is not None:
            return list(self.graph.fifo_depths)
        return default_fifo_depths(self.graph, self.fifo_depth)

    def stages(self) -> list[_Stage]:
        stages = []
        layers = self.graph.layers
        depths = self.fifo_depths()
        for index, layer in enumerate(layers):
            stages.append(_Stage(layer.name, block_for(layer)))
            if index + 1 == len(layers):
                break
            count, bits = output_transfer(layer)
            consumer_count, consumer_bits = input_transfer(layers[index + 1])
            assert bits == consumer_bits, (layer.name, bits, consumer_bits)   # checked by the IR
            if count != consumer_count:
                stages.append(_Stage(f"{layer.name}_dwc", WidthConverter(
                    in_width=count * bits, out_width=consumer_count * bits)))
            stages.append(_Stage(f"{layer.name}_fifo", StreamFIFO(
                shape=unsigned(consumer_count * bits), depth=depths[index], monitored=self.monitor)))
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
        if self.taps:
            blocks = {stage.name: stage.block for stage in stages}
            for index, layer in enumerate(self.graph.layers):
                tap, out = getattr(self, f"tap{index}"), blocks[layer.name].o
                m.d.comb += [tap.payload.eq(out.payload), tap.valid.eq(out.valid),
                             tap.ready.eq(out.ready)]
        if self.monitor:
            peaks = []
            fifos = [stage.block for stage in stages if isinstance(stage.block, StreamFIFO)]
            for index, fifo in enumerate(fifos):
                peak = Signal(LEVEL_BITS, name=f"peak{index}")
                with m.If(fifo.level > peak):
                    m.d.sync += peak.eq(fifo.level)
                peaks.append(peak)
                m.d.comb += fifo.limit.eq(self.limits[LEVEL_BITS * index:LEVEL_BITS * (index + 1)])
            m.d.comb += self.levels.eq(Cat(*peaks))
        return m
