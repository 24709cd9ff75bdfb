"""The dataflow top: the IR's layers as streaming blocks, wired along the graph's edges (a fork
where a layer feeds several, a width converter and a FIFO on each edge), ending in a label
select."""
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..ir import Edge, Graph, converter
from ..lib.packing import pack_words
from ..ops import FIFOLayer, ForkLayer, LabelSelectLayer, op_for
from ..ops.fifo import StreamFIFO
from ..ops.label_select import result_layout
from ..target import DEFAULT_TARGET, Target

__all__ = ["Network", "default_fifo_depths", "edge_stages", "fork_layers", "frame_words",
           "stage_layers", "tap_signature", "LEVEL_BITS"]

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
    """The fixed rule, without sizing, per edge (:meth:`hwgen.ir.Graph.edges`): ``fifo_depth``,
    and at least what the consumer needs in front of it to run at full rate alone
    (:meth:`hwgen.ops.Op.min_depth_before`: an MVTU's input vector). An edge out of a fork
    (a layer feeding several) holds two frames of the consumer's transfers (:func:`frame_depth`):
    the paths that reconverge at a join may buffer up to a frame before their first output,
    and the fork waits for every consumer."""
    depths, activations = [], None
    for edge in graph.edges():
        consumer = graph.layers[graph.index(edge.consumer)]
        depth = max(fifo_depth, op_for(consumer).min_depth_before(consumer))
        if len(graph.consumers(edge.producer)) > 1:
            activations = activations or graph.activations()
            depth = max(depth, frame_depth(graph, edge, activations))
        depths.append(depth)
    return depths


def frame_depth(graph: Graph, edge: Edge, activations: list, frames: int = 2) -> int:
    """``frames`` frames of ``edge``'s consumer's input transfers, and 4 more, at most
    ``2**LEVEL_BITS - 1``: a depth no FIFO fills in. ``activations``: the graph's
    (:meth:`hwgen.ir.Graph.activations`, computed once by the caller)."""
    consumer = graph.layers[graph.index(edge.consumer)]
    elements = activations[graph.index(edge.producer) + 1].elements
    padding = op_for(consumer).in_padding(consumer, edge.port)
    if padding is not None:                 # the stream carries each vector padded
        elements = elements // padding[0] * padding[1]
    words = elements // op_for(consumer).in_transfers(consumer)[edge.port].elements
    return min((1 << LEVEL_BITS) - 1, frames * words + 4)


def edge_stages(graph: Graph, depths, *, monitor: bool = False) -> dict[Edge, tuple]:
    """Per edge of ``graph``, the stages on it in stream order: a width converter where the
    producer's transfers are not its consumer's, then a FIFO of the edge's depth (``depths``,
    in the order of :meth:`hwgen.ir.Graph.edges`). The FIFO (and converter) after a layer
    feeding one other is ``<layer>_fifo`` (``<layer>_dwc``), after one feeding several
    ``<layer>_fifo_<consumer>``."""
    layers = {layer.name: layer for layer in graph.layers}
    result = {}
    for edge, depth in zip(graph.edges(), depths):
        producer, consumer = layers[edge.producer], layers[edge.consumer]
        consumer_count, bits = op_for(consumer).in_transfers(consumer)[edge.port]
        single = len(graph.consumers(edge.producer)) == 1
        suffix = "" if single else f"_{edge.consumer}"
        between = converter(producer, consumer, edge.port,
                            name=f"{producer.name}_dwc{suffix}")
        stages = [] if between is None else [between]
        stages.append(FIFOLayer(name=f"{producer.name}_fifo{suffix}", elements=consumer_count,
                                bits=bits, depth=depth, monitored=monitor))
        result[edge] = tuple(stages)
    return result


def fork_layers(graph: Graph) -> dict[str, ForkLayer]:
    """The fork after each layer of ``graph`` feeding several others, by the layer's name."""
    result = {}
    for layer in graph.layers:
        consumers = graph.consumers(layer.name)
        if len(consumers) > 1:
            count, bits = op_for(layer).out_transfer(layer)
            result[layer.name] = ForkLayer(name=f"{layer.name}_fork", elements=count,
                                           bits=bits, outputs=len(consumers))
    return result


def stage_layers(graph: Graph, *, fifo_depth: int = 2, monitor: bool = False) -> list:
    """The layers of every stage a :class:`Network` of ``graph`` builds: each graph layer,
    then its fork (if it feeds several), then the stages of each edge out of it
    (:func:`edge_stages`; FIFO depths the graph's sized ones, else
    :func:`default_fifo_depths` of ``fifo_depth``); the label select last. A chain's are in
    stream order. What the network's resources are the sum of."""
    depths = (list(graph.fifo_depths) if graph.fifo_depths is not None
              else default_fifo_depths(graph, fifo_depth))
    links, forks = edge_stages(graph, depths, monitor=monitor), fork_layers(graph)
    entry = graph.input_converter()
    result = [] if entry is None else [entry]
    for layer in graph.layers:
        result.append(layer)
        if layer.name in forks:
            result.append(forks[layer.name])
        for edge in graph.consumers(layer.name):
            result.extend(links[edge])
    last = graph.layers[-1]
    out = op_for(last).out_transfer(last)
    result.append(LabelSelectLayer(name="label_select", classes=graph.classes,
                                   pe=out.elements, logit_bits=out.bits))
    return result


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
    FPGA family ``target``; a layer feeding several others streams into a
    :class:`~hwgen.ops.fork.hw.Fork`; on each edge of the graph sit a width converter (where
    the producer's transfer width differs from the consumer's) and a
    :class:`~hwgen.ops.fifo.hw.StreamFIFO`; a :class:`~hwgen.ops.label_select.hw.LabelSelect`
    ends the network.

    Parameters
    ----------
    graph : :class:`hwgen.ir.Graph`
    fifo_depth : int
        Least depth of each inter-layer FIFO when the graph carries no sized depths
        (``graph.fifo_depths``, see :mod:`hwgen.passes.fifo_sizing`); then a FIFO in front of an MVTU is
        made at least one input vector (SF transfers) deep (:func:`default_fifo_depths`).
    monitor : bool
        Add the ``levels`` and ``limits`` ports, ``LEVEL_BITS`` bits per FIFO in the order of
        the graph's edges (:meth:`hwgen.ir.Graph.edges`; in a chain, the FIFO after layer 0
        in the lowest bits): ``levels`` holds the most entries each FIFO has held since
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
    levels : ``Out(unsigned(LEVEL_BITS * len(graph.edges())))``, with ``monitor`` only.
    limits : ``In(unsigned(LEVEL_BITS * len(graph.edges())))``, with ``monitor`` only.
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
        entry = graph.input_converter()
        if entry is not None:
            self.in_elements = entry.in_elements
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
            width = LEVEL_BITS * max(1, len(graph.edges()))
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
        """Depth of the FIFO on each edge of the graph (:meth:`hwgen.ir.Graph.edges`)."""
        if self.graph.fifo_depths is not None:
            return list(self.graph.fifo_depths)
        return default_fifo_depths(self.graph, self.fifo_depth)

    def links(self) -> dict[Edge, tuple]:
        """Per edge of the graph, the stages on it in stream order (:func:`edge_stages`)."""
        return edge_stages(self.graph, self.fifo_depths(), monitor=self.monitor)

    def forks(self) -> dict[str, ForkLayer]:
        """The fork after each layer feeding several others, by the layer's name."""
        return fork_layers(self.graph)

    def stage_layers(self) -> list:
        """The layers of every stage the network builds (:func:`stage_layers`)."""
        return stage_layers(self.graph, fifo_depth=self.fifo_depth, monitor=self.monitor)

    def stages(self) -> list[_Stage]:
        """Each of :meth:`stage_layers` with its block (:meth:`hwgen.ops.Op.block`) for
        :attr:`target`."""
        return [_Stage(layer, op_for(layer).block(layer, self.target))
                for layer in self.stage_layers()]

    def elaborate(self, platform):
        m = Module()
        stages = self.stages()
        blocks = {stage.name: stage.block for stage in stages}
        for stage in stages:
            m.submodules[stage.name] = stage.block
        graph = self.graph

        def port(layer, index):            # input ``index`` of a graph layer's block
            block = blocks[layer.name]
            return block.i if op_for(layer).inputs == 1 else getattr(block, f"i{index}")

        entry = self.graph.input_converter()
        if entry is None:
            wiring.connect(m, wiring.flipped(self.i), port(graph.layers[0], 0))
        else:
            wiring.connect(m, wiring.flipped(self.i), blocks[entry.name].i)
            wiring.connect(m, blocks[entry.name].o, port(graph.layers[0], 0))
        links, forks = self.links(), self.forks()
        fifos = {}
        for layer in graph.layers:
            edges = graph.consumers(layer.name)
            outs = [blocks[layer.name].o]
            if layer.name in forks:
                fork = blocks[forks[layer.name].name]
                wiring.connect(m, blocks[layer.name].o, fork.i)
                outs = [getattr(fork, f"o{k}") for k in range(len(edges))]
            for edge, out in zip(edges, outs):
                chain = [blocks[stage.name] for stage in links[edge]]
                wiring.connect(m, out, chain[0].i)
                for producer, consumer in zip(chain, chain[1:]):
                    wiring.connect(m, producer.o, consumer.i)
                consumer = graph.layers[graph.index(edge.consumer)]
                wiring.connect(m, chain[-1].o, port(consumer, edge.port))
                fifos[edge] = chain[-1]
        wiring.connect(m, blocks[graph.layers[-1].name].o, blocks["label_select"].i)
        wiring.connect(m, blocks["label_select"].o, wiring.flipped(self.o))
        if self.taps:
            for index, layer in enumerate(graph.layers):
                tap, out = getattr(self, f"tap{index}"), blocks[layer.name].o
                m.d.comb += [tap.payload.eq(out.payload), tap.valid.eq(out.valid),
                             tap.ready.eq(out.ready)]
        if self.monitor:
            peaks = []
            for index, edge in enumerate(graph.edges()):
                fifo = fifos[edge]
                assert isinstance(fifo, StreamFIFO)
                peak = Signal(LEVEL_BITS, name=f"peak{index}")
                with m.If(fifo.level > peak):
                    m.d.sync += peak.eq(fifo.level)
                peaks.append(peak)
                m.d.comb += fifo.limit.eq(self.limits[LEVEL_BITS * index:LEVEL_BITS * (index + 1)])
            m.d.comb += self.levels.eq(Cat(*peaks))
        return m
