"""Matrix-vector-threshold unit (FINN's MVAU) for +-1 weights and activations."""
import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ...lib.pipeline import delay
from ...lib.popcount import pipelined_sum, tree_sum
from ...lib.rom import RegisteredRom, Rom
from ...lib.skid import skid_output
from ...target import Target
from .cim import CimMacro
from .datapath import (BLOCK_READ_REGISTERS, SUM_LEVELS_PER_STAGE, simd_terms, sum_latency,
                       table_shape, threshold_word_bits, weight_memory, weights_in_block_ram)
from .layer import MVTULayer
from .words import weight_words

__all__ = ["MVTU", "mvtu_output_shape", "hardware_thresholds", "threshold_words",
           "thermometer_tables", "table_offset"]


def mvtu_output_shape(layer: MVTULayer):
    """Payload shape of an MVTU's output stream: PE activations of ``act_bits`` each, or PE
    signed dot products."""
    if layer.output == "bits":
        return unsigned(layer.pe * layer.act_bits)
    return data.ArrayLayout(signed(layer.out_bits), layer.pe)


def _uses_popcount(layer: MVTULayer) -> bool:
    # Bipolar inputs accumulate the XNOR popcount p (unsigned, narrower): dot = 2p - mw
    # (with b-bit weights p = sum_j 2**j p_j over the weight planes: dot = 2p - (2**b - 1) mw).
    return layer.in_encoding == "bipolar" and layer.macro is None


def hardware_thresholds(layer: MVTULayer) -> np.ndarray:
    """Thresholds (mh, levels - 1) in the accumulator's domain: on the popcount
    ``p >= ceil((T + L mw) / 2)`` for bipolar inputs (``L`` the largest weight level), else on
    the dot product itself."""
    thresholds = np.asarray(layer.thresholds, dtype=np.int64).reshape(layer.mh, -1)
    if _uses_popcount(layer):
        return (thresholds + layer.weight_max * layer.mw + 1) // 2
    return thresholds


def threshold_words(layer: MVTULayer) -> list[int]:
    """Threshold memory contents: word ``nf`` holds, for PE ``j`` and threshold ``t``,
    threshold ``t`` of neuron ``nf*PE + j`` (two's complement, in the accumulator's domain, see
    :func:`hardware_thresholds`) at ``(j * T + t) * width`` (``T`` =
    :attr:`~hwgen.ops.MVTULayer.threshold_count`), then the invert flags, ``I`` a neuron
    (:attr:`~hwgen.ops.MVTULayer.invert_count`: BitSplit's one per bit), PE ``j``'s at
    ``PE * T * width + j * I``."""
    width = layer.threshold_bits
    thresholds = hardware_thresholds(layer)
    count, flags = layer.threshold_count, layer.invert_count
    invert = np.asarray(layer.invert).reshape(layer.mh, flags)
    words = []
    for nf in range(layer.nf):
        word = 0
        for j in range(layer.pe):
            n = nf * layer.pe + j
            for t in range(count):
                word |= (int(thresholds[n, t]) & ((1 << width) - 1)) << ((j * count + t) * width)
            for f in range(flags):
                word |= int(invert[n, f]) << (layer.pe * count * width + j * flags + f)
        words.append(word)
    return words


def table_offset(layer: MVTULayer) -> int:
    """What a thermometer layer's table entries over a vector's ``SF`` transfers sum to beyond
    its dot product: ``code_bits`` times the largest weight level per element, ``L mw``."""
    return layer.weight_max * layer.mw


def thermometer_tables(layer: MVTULayer) -> list[list[int]]:
    """Lookup tables of a thermometer layer, one per element slot ``g`` of a transfer: word
    ``a * 2**in_bits + v`` (``a = nf * SF + sf``) holds at ``[j * TW ...]`` (``TW`` bits) neuron
    ``nf*PE + j``'s contribution of element ``v`` in slot ``g`` of synapse fold ``sf``: its
    weights (+-1) of the code's values ``[v > k]`` summed, plus ``L``
    (:func:`~.datapath.table_shape`). A table replaces the code's ``L`` products and their
    popcount by one read."""
    codes, bits = layer.code_bits, layer.in_bits
    width = table_shape(layer).width
    signs = 2 * layer.weights.astype(np.int64) - layer.weight_max      # the weight levels
    # steps[n, e, v]: the contribution of value v in element e of neuron n.
    steps = np.concatenate([np.zeros((layer.mh, layer.in_elements, 1), dtype=np.int64),
                            np.cumsum(signs.reshape(layer.mh, layer.in_elements, codes), axis=2)],
                           axis=2)
    per_transfer = layer.simd_elements
    tables = []
    for g in range(per_transfer):
        words = []
        for nf in range(layer.nf):
            for sf in range(layer.sf):
                element = sf * per_transfer + g
                for v in range(1 << bits):
                    word = 0
                    for j in range(layer.pe):
                        word |= ((int(steps[nf * layer.pe + j, element, v])
                                  + codes * layer.weight_max) << (j * width))
                    words.append(word)
        tables.append(words)
    return tables


def _times(value, factor: int):
    """``value * factor`` for a constant ``factor`` as a sum of shifted copies (no multiplier
    for synthesis to map to a DSP)."""
    terms = [value << k for k in range(factor.bit_length()) if (factor >> k) & 1]
    return tree_sum(terms)


class MVTU(wiring.Component):
    """Matrix-vector-threshold unit with PE x SIMD folding, built for a target.

    Each input vector of ``mw`` elements arrives as ``SF = mw / simd`` transfers; it is
    multiplied by the ``mh x mw`` +-1 weight matrix ``PE`` neurons at a time, so one vector
    takes ``NF * SF`` cycles (``NF = mh / pe``). The first neuron fold consumes the input
    stream and stores it; later folds replay it from a buffer. Per cycle and neuron the SIMD
    products are summed by the input encoding: bipolar, an XNOR popcount; binary, the inputs
    under +1 weights less those under -1 weights; uint, an adder tree of +-x. A ``cim`` layer
    (``layer.macro``) reads its SIMD = wordlines elements as one wordline group of the macro
    per cycle instead (:mod:`hwgen.ops.mvtu.cim`): its sums are ADC code sums, with the seeded
    noise of :mod:`hwgen.cim.noise`, bit for bit :func:`hwgen.cim.macro_mvm`.

    Parameters
    ----------
    layer : :class:`hwgen.ir.MVTULayer`
        Shape, folding, weights and thresholds. Without thresholds the unit emits the signed
        dot products ``2 * popcount - mw`` (the logits of a last layer).
    target : :class:`hwgen.target.Target`
        The FPGA family: where its memories go (:func:`~hwgen.ops.mvtu.datapath.memories`:
        weights in block RAM are read through
        :data:`~hwgen.ops.mvtu.datapath.BLOCK_READ_REGISTERS` more registers) and the
        attributes asking synthesis for the layer's ``ram_style``.

    Attributes
    ----------
    i : ``In(stream.Signature(unsigned(simd * in_bits)))``
        Transfer ``sf`` of a vector carries input elements ``sf*SIMD .. sf*SIMD+SIMD-1``,
        element ``k`` at bits ``k*in_bits ..``.
    o : ``Out(stream.Signature(mvtu_output_shape(layer)))``
        Transfer ``nf`` carries neurons ``nf*PE .. nf*PE+PE-1``: one bit each
        (``(dot >= threshold) != invert``), ``act_bits`` each (the count of the neuron's
        ``2**act_bits - 1`` thresholds passed, each compare negated by ``invert``), or a
        signed dot product each.

    Pipeline, one register stage each (:func:`~hwgen.ops.mvtu.datapath.mvtu_latency` cycles
    in all): issue (weight and
    replay reads) -> the weight word and input vector registered (after
    :data:`BLOCK_READ_REGISTERS` more when the weights are in block RAM) -> the sum's leaves
    (chunk popcounts, +-x) -> every two adder levels of their tree -> accumulate -> threshold
    compare or dot product into the output register; a cim layer's macro instead of the
    leaves and tree. All stages move together (``advance``) while the skid register behind
    the output register is empty: it takes the result the pipeline delivers while the output
    is held, and the pipeline stalls while it is full, so ``advance`` and ``i.ready`` depend on
    no downstream ``o.ready``. A full pipeline sustains one transfer per cycle and stalls only
    on backpressure; the latency is not in the cycles per vector.
    """

    def __init__(self, layer: MVTULayer, *, target: Target):
        if not isinstance(layer, MVTULayer):
            raise TypeError(f"layer must be an MVTULayer, not {layer!r}")
        if not isinstance(target, Target):
            raise TypeError(f"target must be a hwgen.target.Target, not {target!r}")
        self.layer = layer
        self.target = target
        super().__init__({
            "i": In(stream.Signature(unsigned(layer.in_width))),
            "o": Out(stream.Signature(mvtu_output_shape(layer))),
        })

    def expected_cycles(self) -> int:
        """Cycles per input vector at full throughput: NF * SF."""
        return self.layer.expected_cycles()

    def elaborate(self, platform):
        layer, target = self.layer, self.target
        pe, simd, nf_count, sf_count = layer.pe, layer.simd, layer.nf, layer.sf
        m = Module()

        macro = layer.macro
        lookup = layer.in_encoding == "thermometer"
        extra = BLOCK_READ_REGISTERS if weights_in_block_ram(layer, target) else 0
        # One weight word (a fully parallel layer): the weights are constants in the leaves'
        # logic, not a memory read into a register (the netlist Yosys would fold to the same).
        words = weight_words(layer) if macro is None and not lookup else None
        constant = words is not None and weight_memory(layer, target).kind == "const"
        if words is not None and not constant and extra:
            # In block RAM: the read and its register are the ROM's two (the block's own
            # output register where the target has one, hwgen.lib.rom).
            m.submodules.weights = weights = RegisteredRom(
                words, width=pe * simd * layer.weight_bits, target=target,
                style=layer.ram_style, name="weight")
            weight_read = weights.ports[0]
        elif words is not None and not constant:
            m.submodules.weights = weights = Rom(words, width=pe * simd * layer.weight_bits,
                                                 target=target, style=layer.ram_style,
                                                 name="weight_read")
            weight_read = weights.port

        # --- issue ---------------------------------------------------------------------------
        nf = Signal(range(nf_count))
        sf = Signal(range(sf_count))
        address = Signal(range(nf_count * sf_count))
        from_input = Signal()
        issue = Signal()
        advance = Signal()

        m.d.comb += [
            from_input.eq(nf == 0),
            issue.eq(advance & (self.i.valid | ~from_input)),
            self.i.ready.eq(advance & from_input),
        ]
        if words is not None and not constant:
            m.d.comb += [weight_read.addr.eq(address), weight_read.en.eq(advance)]
        with m.If(issue):
            m.d.sync += address.eq(Mux(address == nf_count * sf_count - 1, 0, address + 1))
            with m.If(sf == sf_count - 1):
                m.d.sync += [sf.eq(0), nf.eq(Mux(nf == nf_count - 1, 0, nf + 1))]
            with m.Else():
                m.d.sync += sf.eq(sf + 1)
        s1_valid, s1_first, s1_last, s1_direct = Signal(), Signal(), Signal(), Signal()
        # Data registers have no reset (hwgen.lib.pipeline.delay): the valid flags have.
        s1_input = Signal(layer.in_width, reset_less=True)
        s1_nf, s1_sf = Signal.like(nf), Signal.like(sf)
        s1_address = Signal.like(address, reset_less=True)
        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(issue),
                s1_first.eq(sf == 0),
                s1_last.eq(sf == sf_count - 1),
                s1_direct.eq(from_input),
                s1_input.eq(self.i.payload),
                s1_nf.eq(nf),
                s1_sf.eq(sf),
                s1_address.eq(address),
            ]

        if nf_count > 1:
            # Later neuron folds replay the vector the first fold stored.
            m.submodules.buffer = buffer = memory.Memory(shape=unsigned(layer.in_width),
                                                         depth=sf_count, init=[])
            buffer_write = buffer.write_port()
            buffer_read = buffer.read_port()
            m.d.comb += [
                buffer_write.addr.eq(sf),
                buffer_write.data.eq(self.i.payload),
                buffer_write.en.eq(issue & from_input),
                buffer_read.addr.eq(sf),
                buffer_read.en.eq(advance),
            ]
            replayed = buffer_read.data
        else:
            replayed = s1_input

        # --- per-cycle sums ----------------------------------------------------------------
        vector = Signal(layer.in_width)
        m.d.comb += vector.eq(Mux(s1_direct, s1_input, replayed))
        popcounting = _uses_popcount(layer)
        if popcounting:
            acc_shape = unsigned(max(1, (layer.weight_max * layer.mw).bit_length()))  # 0 .. L mw
        else:
            acc_shape = signed(layer.dot_bits)
        # The per-cycle sums arrive ``latency`` advances after s1 (datapath.sum_latency).
        latency = sum_latency(layer, target)
        if macro is not None:
            m.submodules.macro = cim = CimMacro(layer, target=target)
            m.d.comb += [cim.en.eq(advance), cim.block.eq(s1_nf), cim.group.eq(s1_sf),
                         cim.last.eq(s1_valid & s1_last & (s1_nf == nf_count - 1)),
                         cim.wl.eq(vector)]
            assert cim.latency == latency
        # Delay the control of s1 to s2 by ``latency`` register stages (c0, c1, ..., s2).
        controls = [(s1_valid, s1_first, s1_last, s1_nf)]
        for stage in range(latency):
            prefix = "s2" if stage == latency - 1 else f"c{stage}"
            delayed = (Signal(name=f"{prefix}_valid"), Signal(name=f"{prefix}_first"),
                       Signal(name=f"{prefix}_last"), Signal.like(nf, name=f"{prefix}_nf"))
            with m.If(advance):
                m.d.sync += [new.eq(old) for new, old in zip(delayed, controls[-1])]
            controls.append(delayed)
        s2_valid, s2_first, s2_last, s2_nf = controls[-1]
        # A split_input layer's per-plane signals are named ``..._p``.
        suffix = (lambda p: f"_{p}") if layer.split_input else (lambda p: "")
        if lookup:
            # Register the input vector and the fold, then read each element slot's table at
            # (fold, element): the PE's contributions of that element, summed by a tree.
            vector_word = Signal(layer.in_width, reset_less=True)
            fold = Signal.like(address, reset_less=True)
            with m.If(advance):
                m.d.sync += [vector_word.eq(vector), fold.eq(s1_address)]
            bits, shape = layer.in_bits, table_shape(layer)
            width = shape.width
            reads = []
            for g, words in enumerate(thermometer_tables(layer)):
                if extra:       # block RAM: its read and register are the ROM's two
                    table = RegisteredRom(words, width=pe * width, target=target,
                                          style=layer.ram_style, name=f"table{g}")
                    port = table.ports[0]
                else:
                    table = memory.Memory(shape=unsigned(pe * width), depth=len(words),
                                          init=words, attrs=target.memory_attrs(layer.ram_style))
                    port = table.read_port()
                m.submodules[f"table{g}"] = table
                m.d.comb += [port.addr.eq(Cat(vector_word[g * bits:(g + 1) * bits], fold)),
                             port.en.eq(advance)]
                reads.append(port.data)
            s2_sum = [[pipelined_sum(m, [read[j * width:(j + 1) * width] for read in reads],
                                     en=advance, levels=SUM_LEVELS_PER_STAGE, name=f"sum{j}")]
                      for j in range(pe)]
        elif macro is None:
            # The block RAM's output is slow: register the weight word and
            # the input vector before any logic (from block RAM after the extra registers),
            # then the leaves and the adder tree's levels.
            vector_word = Signal(layer.in_width, reset_less=True)
            early = delay(m, advance, vector, extra, "vector")
            with m.If(advance):
                m.d.sync += vector_word.eq(early)
            row_bits = simd * layer.weight_bits     # a PE's weight bit planes, plane by plane
            if constant:
                rows = [tuple((words[0] >> (j * row_bits + k)) & 1 for k in range(row_bits))
                        for j in range(pe)]
            else:
                weight_word = Signal(pe * row_bits, reset_less=True)
                read = weight_read.data     # the ROM's second register where extra
                with m.If(advance):
                    m.d.sync += weight_word.eq(read)
                rows = [weight_word[j * row_bits:(j + 1) * row_bits] for j in range(pe)]
            # Per PE neuron its sum (with split_input one per bit plane: [j][p]).
            s2_sum = [[pipelined_sum(m, simd_terms(layer, row, vector_word, p), en=advance,
                                     levels=SUM_LEVELS_PER_STAGE, name=f"sum{j}{suffix(p)}")
                       for p in range(layer.planes)] for j, row in enumerate(rows)]
        else:
            # Shift-add the codes of the PE columns' reads: sum over j, p of code << (j + p)
            # (with split_input each plane p's apart: sum over j of code << j).
            # With a partial last group, each group's codes weighted by its rows
            # (``omega``: full groups' and the last's, :meth:`MacroSpec.group_weights`).
            wb, ab, bits = macro.weight_bits, macro.act_bits, macro.adc_bits
            full, last = macro.group_weights(layer.mw)
            s2_sum = []
            for i in range(pe):
                sums = []
                for plane in range(layer.planes):
                    codes = [cim.codes[((i * wb + j) * ab + p) * bits:][:bits]
                             << (j + (0 if layer.split_input else p))
                             for j in range(wb) for p in range(ab)
                             if not layer.split_input or p == plane]
                    sums.append(Signal(acc_shape, name=f"s2_sum{i}{suffix(plane)}"))
                    read = tree_sum(codes)
                    if (full, last) != (1, 1):
                        read = Mux(s2_last, _times(read, last), _times(read, full))
                    m.d.comb += sums[-1].eq(read)
                s2_sum.append(sums)

        # --- accumulate ----------------------------------------------------------------------
        # One accumulator per PE neuron and plane ([j][p]; one plane unless split_input).
        planes = range(layer.planes)
        acc = [[Signal(acc_shape, name=f"acc{j}{suffix(p)}", reset_less=True) for p in planes]
               for j in range(pe)]
        total = [[Signal(acc_shape, name=f"total{j}{suffix(p)}") for p in planes]
                 for j in range(pe)]
        start = -table_offset(layer) if lookup else 0
        for j in range(pe):
            for p in planes:
                m.d.comb += total[j][p].eq(Mux(s2_first, Const(start, acc_shape), acc[j][p])
                                           + s2_sum[j][p])
        s3_valid = Signal()
        s3_total = [[Signal(acc_shape, name=f"s3_total{j}{suffix(p)}", reset_less=True)
                     for p in planes] for j in range(pe)]
        with m.If(advance):
            m.d.sync += s3_valid.eq(s2_valid & s2_last)
            with m.If(s2_valid):
                for j in range(pe):
                    m.d.sync += [acc[j][p].eq(total[j][p]) for p in planes]
                    m.d.sync += [s3_total[j][p].eq(total[j][p]) for p in planes]

        # --- output: thresholds compared, or the dot products, into the output register --------
        result = Signal(Shape.cast(mvtu_output_shape(layer)).width)
        if layer.output == "bits":
            width, count = layer.threshold_bits, layer.threshold_count
            flags = layer.invert_count
            m.submodules.thresholds = thresholds = memory.Memory(
                shape=unsigned(pe * threshold_word_bits(layer)), depth=nf_count,
                init=threshold_words(layer))
            threshold_read = thresholds.read_port()
            # Read a stage before the accumulator and registered beside its total (a block
            # RAM's output is slow).
            word = Signal(thresholds.shape, reset_less=True)
            m.d.comb += [threshold_read.addr.eq(controls[-2][3]), threshold_read.en.eq(advance)]
            with m.If(advance):
                m.d.sync += word.eq(threshold_read.data)
            outputs = []
            for j in range(pe):
                def passed(t, total, flag):
                    threshold = word[(j * count + t) * width:][:width].as_signed()
                    return (total >= threshold) ^ word[pe * count * width + j * flags + flag]
                if layer.bitsplit:        # bit p: its own threshold, flag (and plane's sum)
                    outputs += [passed(p, s3_total[j][p if layer.split_input else 0], p)
                                for p in range(layer.act_bits)]
                    continue
                bits = [passed(t, s3_total[j][0], 0) for t in range(count)]
                outputs.append(bits[0] if count == 1 else tree_sum(bits)[:layer.act_bits])
            m.d.comb += result.eq(Cat(*outputs))
        else:
            for j in range(pe):
                dot = ((s3_total[j][0] << 1) - Const(layer.weight_max * layer.mw)
                       if popcounting else s3_total[j][0])
                m.d.comb += result[j * layer.out_bits:(j + 1) * layer.out_bits].eq(dot)
        # The output register, and a skid register behind it (:func:`skid_output`).
        m.d.comb += advance.eq(skid_output(m, self.o, result, s3_valid))
        return m
