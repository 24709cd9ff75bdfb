"""The dataflow top: the IR's layers as a chain of streaming blocks ending in a label select."""
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..ir import Graph
from ..lib.packing import pack_words
from ..ops import DWCLayer, FIFOLayer, LabelSelectLayer, op_for
from ..ops.fifo import StreamFIFO
from ..ops.label_select import result_layout
from ..target import DEFAULT_TARGET, Target

__all__ = ["Network", "default_fifo_depths", "frame_words", "tap_signature", "LEVEL_BITS"]

#: Bits per FIFO in the ``levels`` port of a monitored network.
LEVEL_BITS = 16


def frame_words(frames: np.ndarray, *, bits: int, per_word: int) -> list[list[int]]:
    """Input transfers for each frame: ``per_word`` elements of ``bits`` bits each, the
    frame's element 0 first (at bit 0)."""
    frames = np.asarray(frames)
    if frames.shape[1] % per_word:
        raise ValueError(f"frame of {frames.shape[1]} elements is not a multiple of "
                         f"per_word={per_word}")
    return [pack_words(frame, width=bits, per_word=per_word) for frame in frames]


def tap_signature(layer) -> wiring.Signature:
    """A copy of ``layer``'s output stream handshake and payload (all outputs: it only watches)."""
    count, bits = op_for(layer).out_transfer(layer)
    return wiring.Signature({"payload": Out(unsigned(count * bits)), "valid": Out(1),
                             "ready": Out(1)})


def default_fifo_depths(graph: Graph, fifo_depth: int) -> list[int]:
    """The fixed rule, without sizing: ``fifo_depth``, and at least what the consumer needs in
    front of it to run at full rate alone (:meth:`hwgen.ops.Op.min_depth_before`: an MVTU's
    input vector)."""
    return [max(fifo_depth, op_for(consumer).min_depth_before(consumer))
            for consumer in graph.layers[1:]]


@dataclass(frozen=True)
class _Stage:
    layer: object       # the op's layer: a graph layer, or a FIFO, converter, label select
    block: wiring.Component

    @property
    def name(self) -> str:
        return self.layer.name


class Network(wiring.Component):
    """A whole BNN as FINN-style streaming hardware.

    Each layer of the IR becomes its op's block (:meth:`hwgen.ops.Op.block`), built for the
    FPGA family ``target``;
    between two layers sit a width converter (where the producer's transfer width differs from
    the consumer's) and a :class:`~hwgen.ops.fifo.hw.StreamFIFO`; a
    :class:`~hwgen.ops.label_select.hw.LabelSelect` ends the chain.

    Parameters
    ----------
    graph : :class:`hwgen.ir.Graph`
    fifo_depth : int
        Least depth of each inter-layer FIFO when the graph carries no sized depths
        (``graph.fifo_depths``, see :mod:`hwgen.passes.fifo_sizing`); then a FIFO in front of an MVTU is
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
    target : :class:`hwgen.target.Target`
        The FPGA family the blocks are built for: the board's ``target``, or
        :data:`hwgen.target.DEFAULT_TARGET` (ECP5) where no board is known. The blocks ask it
        where their memories go (an MVTU reads weights in block RAM through more registers).

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
        transfers (``valid & ready``) carry the op's ``out_transfer(layer)`` elements each, packed as
        :func:`hwgen.lib.packing.pack_words` packs them.
    """

    def __init__(self, graph: Graph, *, fifo_depth: int = 2, monitor: bool = False,
                 taps: bool = False, target: Target = DEFAULT_TARGET):
        if not isinstance(fifo_depth, int) or fifo_depth < 1:
            raise ValueError(f"fifo_depth must be a positive integer, not {fifo_depth!r}")
        if not isinstance(target, Target):
            raise TypeError(f"target must be a hwgen.target.Target, not {target!r}")
        self.graph = graph
        self.target = target
        self.fifo_depth = fifo_depth
        self.monitor = monitor
        self.taps = taps
        first = graph.layers[0]
        self.in_elements, elem_bits = op_for(first).in_transfer(first)
        if elem_bits != graph.input_bits:
            raise ValueError(f"layer {first.name!r} takes {elem_bits}-bit elements, but the "
                             f"graph's input has {graph.input_bits}")
        self.in_width = self.in_elements * elem_bits
        last = graph.layers[-1]
        #: One transfer of the last layer's output: logits.
        self.out_transfer = op_for(last).out_transfer(last)
        self.logit_bits = self.out_transfer.bits
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

    def stage_layers(self) -> list:
        """The layers of the chain the network builds, in order: each graph layer, then (but
        after the last) a width converter where its transfers are not its consumer's and a
        FIFO; the label select last."""
        result = []
        layers = self.graph.layers
        depths = self.fifo_depths()
        for index, layer in enumerate(layers):
            result.append(layer)
            if index + 1 == len(layers):
                break
            count, bits = op_for(layer).out_transfer(layer)
            consumer = layers[index + 1]
            consumer_count, consumer_bits = op_for(consumer).in_transfer(consumer)
            assert bits == consumer_bits, (layer.name, bits, consumer_bits)   # checked by the IR
            if count != consumer_count:
                result.append(DWCLayer(name=f"{layer.name}_dwc", in_elements=count,
                                       out_elements=consumer_count, bits=bits))
            result.append(FIFOLayer(name=f"{layer.name}_fifo", elements=consumer_count,
                                    bits=bits, depth=depths[index], monitored=self.monitor))
        result.append(LabelSelectLayer(name="label_select", classes=self.graph.classes,
                                       pe=self.out_transfer.elements,
                                       logit_bits=self.logit_bits))
        return result

    def stages(self) -> list[_Stage]:
        """Each of :meth:`stage_layers` with its block (:meth:`hwgen.ops.Op.block`) for
        :attr:`target`."""
        return [_Stage(layer, op_for(layer).block(layer, self.target))
                for layer in self.stage_layers()]

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
