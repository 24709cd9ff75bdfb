"""The CIM macro in hardware: a behavioural model of the array behind a ``cim`` MVTU, with
the ports a hard macro would have, bit for bit what :func:`hwgen.cim.macro_mvm` computes.

The arithmetic is :mod:`hwgen.cim.macro`'s (its docstring is the contract); the noise
generator :mod:`hwgen.cim.noise`'s. Nothing here is derived from floats: the quantized
Gaussian table, the noise scales and the ADC thresholds are the integers that package
computes, baked in as constants.

Interface (:class:`CimMacro`; ``rtl_templates/cim_macro.sv.j2`` renders the same ports as a
Verilog black box, the module a chip flow replaces with its hard macro). The array holds the
layer's ``mh x mw`` weights as ``weight_bits`` +-1 cells each, in ``NF = mh / PE`` column
blocks of ``PE * WB`` columns and ``S = mw / WL`` row groups. One read per ``en`` cycle::

    en      In(1)            a read this cycle (every register moves only on en)
    block   In(NF)           column block: neurons block*PE .. block*PE + PE - 1
    group   In(S)            wordline group s: rows s*WL .. s*WL + WL - 1
    last    In(1)            the input vector's last read (the noise key's vector counter)
    wl      In(WL * AB)      the group's input elements, element k's bit p at k*AB + p
                             (bit-serial activation bits read at once)
    codes   Out(PE*WB*AB*ADC_BITS)  ADC codes, read (i, j, p) at ((i*WB + j)*AB + p)*ADC_BITS,
                             LATENCY en-cycles after the read was presented

Per read, for each PE column ``n``, weight slice ``j`` and activation bit ``p``::

    b      bitline sum of group s: 2 * popcount(xnor) - WL (bipolar), or
           popcount(x & w) - popcount(x & ~w) = 2 * popcount(x & w) - a (binary)
    a      active rows: popcount(x_p) (binary), WL (bipolar)
    u      top 8 bits of arx32(h_v ^ (n << 16 | s << 2 | j << 1 | p))
    y      b << (F + G)  +  SCALES[a] * ZTABLE[u]
    code   #{i : y >= T_i}

``h_v``, the hash state of the input vector, comes from :class:`VectorKeys`, a pipeline that
runs ahead of the vector being read. The MVTU shift-adds the codes (``sum code << (j + p)``)
into its accumulator.

Timing. Every stage is one register level deep so that the macro keeps pace with the digital
MVTU's clock: the hash (adders and xors, no multiplier) runs one round a stage
(:data:`ARX_STAGES`), and the table read, the scaling multiply (the macro's one multiplier
per read), the ADC input's add, the comparators and their count each take a stage
(:func:`hwgen.ops.mvtu.datapath.macro_latency`).
"""
import jinja2
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...cim.macro import MacroSpec
from ...cim.noise import (ARX_ROUNDS, NOISE_FRAC_BITS, ROUND_KEYS, TABLE_BITS, arx_round,
                         layer_key, ztable)
from ...lib.pipeline import delay
from ...lib.rom import RegisteredRom
from ...lib.popcount import chunk_popcounts, thermometer_count, tree_sum
from ...resources import data_dir
from .datapath import ROUNDS_PER_STAGE, SAMPLE_REGISTERS, macro_latency
from .words import weight_words

__all__ = ["ARX_STAGES", "VectorKeys", "CimMacro", "macro_ports", "render_macro"]



def _round(x, y, key: int):
    """One ``arx32`` round on 16-bit Amaranth values: an adder, xors and wires."""
    x = (Cat(x[7:], x[:7]) + y)[:16] ^ key
    return x, Cat(y[14:], y[:14]) ^ x


def _rounds_int(keys):
    def step(word: int) -> int:
        x, y = word >> 16, word & 0xFFFF
        for key in keys:
            x, y = arx_round(x, y, key)
        return x << 16 | y
    return step


def _rounds_hdl(keys):
    def step(word):
        x, y = word[16:32], word[:16]
        for key in keys:
            x, y = _round(x, y, key)
        return Cat(y, x)
    return step


#: :func:`hwgen.cim.noise.arx32` as register stages of
#: :data:`~hwgen.ops.mvtu.datapath.ROUNDS_PER_STAGE` rounds each: ``(width, on integers, on
#: Amaranth values)``; composed they are ``arx32`` exactly.
ARX_STAGES = tuple(
    (32, _rounds_int(ROUND_KEYS[k:k + ROUNDS_PER_STAGE]),
     _rounds_hdl(ROUND_KEYS[k:k + ROUNDS_PER_STAGE]))
    for k in range(0, ARX_ROUNDS, ROUNDS_PER_STAGE))


class VectorKeys:
    """``h_v`` of the input vector being issued (``h0``), ``v`` counting vectors since reset.

    ``arx32(h_layer ^ v)`` runs as :data:`ARX_STAGES` in a pipeline that :meth:`elaborate`'s
    ``next_vector`` (the last read of a vector issues) shifts, so it delivers one key per
    vector even when every cycle ends one: with ``D`` stages, register ``k`` (1 .. D) of the
    chain holds stage ``k`` of vector ``v + D + 1 - k``, ``count`` is ``v + D + 1``, and
    ``h0`` takes ``h_{v+1}`` from register ``D`` on each shift.
    Reset values are computed at elaboration time.
    """

    def __init__(self, macro: MacroSpec, layer_index: int):
        self.layer_state = state = layer_key(macro.seed, layer_index)
        depth = len(ARX_STAGES)
        self.count = Signal(32, init=depth + 1, name="hv_count")
        self.stages = []
        for k, (width, _, _) in enumerate(ARX_STAGES):
            value = state ^ (depth - k)                 # the vector stage k + 1 holds
            for _, step, _ in ARX_STAGES[:k + 1]:
                value = step(value)
            self.stages.append(Signal(width, init=value, name=f"hv_stage{k + 1}"))
        value = state
        for _, step, _ in ARX_STAGES:
            value = step(value)
        self.h0 = Signal(32, init=value, name="hv0")

    def elaborate(self, m: Module, next_vector):
        with m.If(next_vector):
            previous = self.count ^ self.layer_state
            for register, (_, _, step) in zip(self.stages, ARX_STAGES):
                m.d.sync += register.eq(step(previous))
                previous = register
            m.d.sync += [self.h0.eq(previous), self.count.eq(self.count + 1)]


def macro_ports(layer) -> dict:
    """The macro's ports of ``layer`` (a cim :class:`~hwgen.ir.MVTULayer`): name ->
    (direction, width), in port order; what :class:`CimMacro` has and the template renders."""
    macro = layer.macro
    reads = layer.pe * macro.weight_bits * macro.act_bits
    return {"en": ("in", 1), "block": ("in", max(1, (layer.nf - 1).bit_length())),
            "group": ("in", max(1, (layer.sf - 1).bit_length())), "last": ("in", 1),
            "wl": ("in", macro.wordlines * macro.act_bits),
            "codes": ("out", reads * macro.adc_bits)}


def render_macro(layer) -> str:
    """The macro's black-box Verilog for ``layer`` (``rtl_templates/cim_macro.sv.j2``): module
    ``hwgen_cim_<layer name>`` with :func:`macro_ports` and the macro's parameters."""
    macro = layer.macro
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("rtl_templates"))),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.get_template("cim_macro.sv.j2").render(
        module=f"hwgen_cim_{layer.name}", layer=layer.name, rows=macro.rows,
        columns=macro.columns, wordlines=macro.wordlines, adc_bits=macro.adc_bits,
        adc_range=macro.adc_range, weight_bits=macro.weight_bits, act_bits=macro.act_bits,
        encoding=macro.encoding, noise=macro.noise, sigma=macro.sigma, seed=macro.seed,
        mh=layer.mh, mw=layer.mw, blocks=layer.nf, groups=layer.sf, pe=layer.pe,
        latency=macro_latency(macro), ports=list(macro_ports(layer).items()))


class CimMacro(wiring.Component):
    """Behavioural CIM macro of one cim MVTU layer (see the module docstring for the ports).

    Parameters
    ----------
    layer : a cim :class:`~hwgen.ir.MVTULayer` (its ``macro``, weights, PE and noise key).
    target : hwgen.target.Target or None
        The family it is built for: its block RAM ROMs (:class:`hwgen.lib.rom.RegisteredRom`)
        use the family's block RAM output registers where it has them.

    Attributes
    ----------
    latency : int
        ``en`` cycles from a read to its codes
        (:func:`~hwgen.ops.mvtu.datapath.macro_latency`).
    """

    def __init__(self, layer, *, target=None):
        if layer.macro is None:
            raise ValueError(f"layer {layer.name!r} is not a cim layer")
        self.layer, self.target = layer, target
        self.latency = macro_latency(layer.macro)
        ports = {name: (In if direction == "in" else Out)(width)
                 for name, (direction, width) in macro_ports(layer).items()}
        super().__init__(ports)

    def elaborate(self, platform):
        layer, macro = self.layer, self.layer.macro
        pe, wl, wb, ab = layer.pe, macro.wordlines, macro.weight_bits, macro.act_bits
        m = Module()
        # Each block's groups at a power-of-two stride, so that the address is (block, group)
        # side by side: no multiplier or adder in front of the block RAM (block * sf + group
        # took a DSP and a carry chain, the slowest path of the macro).
        group_bits = max(0, (layer.sf - 1).bit_length())
        words = weight_words(layer)
        padded = []
        for block in range(layer.nf):
            padded += words[block * layer.sf:(block + 1) * layer.sf]
            padded += [0] * ((1 << group_bits) - layer.sf)
        # Stage A reads the cells, stage B registers them (a block RAM's long clock-to-output
        # delay would otherwise precede the popcounts): the ROM's two registers.
        m.submodules.cells = cells = RegisteredRom(padded, width=pe * wb * wl,
                                                   target=self.target, name="cells")
        cell_read = cells.ports[0]
        address = Cat(self.group[:group_bits], self.block) if group_bits else self.block
        m.d.comb += [cell_read.addr.eq(address), cell_read.en.eq(self.en)]
        reads = [(i, j, p) for i in range(pe) for j in range(wb) for p in range(ab)]
        # Stage A: the read's cells (memory), its inputs and (with noise) each read's hash
        # input ``h_v ^ read_word``.
        # Data registers have no reset (hwgen.lib.pipeline.delay); the vector keys' state has.
        vector = Signal(wl * ab, reset_less=True)
        with m.If(self.en):
            m.d.sync += vector.eq(self.wl)
        keys = {}
        if macro.noisy:
            vector_keys = VectorKeys(macro, layer.macro_key)
            vector_keys.elaborate(m, self.en & self.last)
            nbase = self.block * pe
            for (i, j, p) in reads:
                keys[i, j, p] = Signal(32, name=f"key{i}_{j}{p}", reset_less=True)
                word = ((nbase + i) << 16) | (self.group << 2) | (j << 1) | p
                with m.If(self.en):
                    m.d.sync += keys[i, j, p].eq(vector_keys.h0 ^ word)
        # Stage B: the cells registered (in the ROM), the inputs and keys delayed beside them.
        cells_data = cell_read.data
        vector = delay(m, self.en, vector, 1, "vector")
        keys = {key: delay(m, self.en, value, 1, f"key{key[0]}_{key[1]}{key[2]}")
                for key, value in keys.items()}
        rows = [[cells_data[(i * wb + j) * wl:(i * wb + j + 1) * wl] for j in range(wb)]
                for i in range(pe)]
        # A partial last group: whether the read is of it, beside the inputs (stages A, B).
        last = None
        if macro.partial(layer.mw):
            last = Signal(name="last_group", reset_less=True)
            with m.If(self.en):
                m.d.sync += last.eq(self.group == layer.sf - 1)
            last = delay(m, self.en, last, 1, "last_group")
        codes = _reads(m, macro, reads=reads, en=self.en, rows=rows, vector=vector, keys=keys,
                       target=self.target, last=last, last_rows=macro.last_rows(layer.mw))
        m.d.comb += self.codes.eq(Cat(*codes))
        return m


def _reads(m: Module, macro: MacroSpec, *, reads, en, rows, vector, keys, target=None,
           last=None, last_rows: int | None = None) -> list:
    """The ADC codes (registered; one per read ``(i, j, p)`` of ``reads``) of one wordline
    group read, ``macro_latency - 2`` register stages after the stage whose values are given.
    All registers move on ``en``.

    ``rows[i][j]``: the WL weight bits of PE ``i``'s slice ``j``; ``vector``: WL elements of
    ``act_bits`` bits; ``keys[i, j, p]``: the read's hash input ``h_v ^ read_word`` (noisy
    macros only); ``last``: whether the read is of a partial last group of ``last_rows``
    rows (None: every group is whole), which drives only those rows (the padding's are
    masked: no bitline contribution, not active, whatever the stream carries there), counts
    ``last_rows`` active rows when bipolar, and converts over its own, narrower range.
    """
    wl, ab = macro.wordlines, macro.act_bits
    planes = [Signal(wl, name=f"x_plane{p}") for p in range(ab)]
    for p in range(ab):
        m.d.comb += planes[p].eq(Cat(*(vector[k * ab + p] for k in range(wl))))
    if last is not None:
        # The padding's rows driven by nothing (binary: no active row, no bitline term).
        for p in range(ab):
            masked = Signal(wl, name=f"x_plane{p}_driven")
            m.d.comb += masked.eq(Cat(*(planes[p][k] if k < last_rows else planes[p][k] & ~last
                                        for k in range(wl))))
            planes[p] = masked
    bipolar = macro.encoding == "bipolar"
    b_shape = signed(max(wl.bit_length() + 1, 2))
    a_shape = unsigned(wl.bit_length())

    def name(prefix, key):
        return f"{prefix}{key[0]}_{key[1]}{key[2]}"

    def two_stage_popcount(value, label):
        """Stage 1: popcounts of chunks, registered; stage 2 (the returned value): their sum."""
        parts = []
        for k, count in enumerate(chunk_popcounts(value)):
            parts.append(Signal(len(count), name=f"{label}_part{k}", reset_less=True))
            with m.If(en):
                m.d.sync += parts[-1].eq(count)
        return tree_sum(parts)

    # Stages 1-2: the active rows a (a popcount of the plane, shared by the columns; WL for
    # bipolar) and the bitline sums b = 2 * popcount(x & w) - a (binary: the rows under +1
    # cells less those under -1 cells) or 2 * popcount(xnor(x, w)) - WL (bipolar), each
    # popcount split over the two stages.
    active = [Signal(a_shape, name=f"active{p}", reset_less=True) for p in range(ab)]
    rows_driven = []
    # ``last`` at the popcounts' second stage (stage 1).
    last_1 = None if last is None else delay(m, en, last, 1, "last_group_s1")
    for p in range(ab):
        if bipolar and last is None:
            rows_driven.append(wl)
            m.d.comb += active[p].eq(wl)
        elif bipolar:               # every row of the group: WL, or the partial group's
            rows_driven.append(Mux(last_1, last_rows, wl))
            with m.If(en):
                m.d.sync += active[p].eq(rows_driven[p])
        else:
            rows_driven.append(two_stage_popcount(planes[p], f"active{p}"))
            with m.If(en):
                m.d.sync += active[p].eq(rows_driven[p])
    # A noisy macro's bitline sums wait for the read hash anyway: there the cells take one
    # more register, in the fabric, before the popcounts, so that the wire from the block
    # RAM's column to wherever the popcounts are placed has a stage of its own (the block's
    # output register through the popcount's LUTs and that wire set the KWS top's Fmax).
    # The input planes and the active rows (registered: ``active``) keep pace with them.
    settle = 1 if macro.noisy else 0
    match_planes, match_driven = planes, rows_driven
    if settle:
        rows = [[delay(m, en, rows[i][j], settle, f"cells{i}_{j}") for j in range(len(rows[i]))]
                for i in range(len(rows))]
        match_planes = [delay(m, en, plane, settle, f"x_plane{p}") for p, plane in
                        enumerate(planes)]
        match_driven = active
    b = {key: Signal(b_shape, name=name("b", key), reset_less=True) for key in reads}
    codes = {key: Signal(macro.adc_bits, name=name("code", key), reset_less=True)
             for key in reads}
    # A partial group's bipolar padding rows masked out of the matches (at the cells'
    # stage); its flag registered beside the bitline sums (``b_last``).
    last_cells = None if last is None else delay(m, en, last, settle, "last_group_cells")
    b_last = None
    if last is not None:
        b_last = Signal(name="b_last", reset_less=True)
        with m.If(en):
            m.d.sync += b_last.eq(delay(m, en, last, 1 + settle, "last_group_b"))
    for (i, j, p) in reads:
        row, plane = rows[i][j], match_planes[p]
        terms = [~(row[k] ^ plane[k]) if bipolar else row[k] & plane[k] for k in range(wl)]
        if last is not None and bipolar:
            terms = [term if k < last_rows else term & ~last_cells
                     for k, term in enumerate(terms)]
        matches = two_stage_popcount(terms, name("match", (i, j, p)))
        with m.If(en):
            m.d.sync += b[i, j, p].eq((matches << 1) - match_driven[p])

    def compare(value, thresholds, last_thresholds, flag):
        """``value >= t`` for each threshold, the partial group's where ``flag``."""
        if flag is None:
            return [value >= t for t in thresholds]
        return [value >= Mux(flag, low, high) for high, low in zip(thresholds, last_thresholds)]

    partial_thresholds = (macro.group_thresholds(last_rows) if last is not None
                          else macro.thresholds)
    if not macro.noisy:
        # Stage 3: the ADC on the bitline sum itself: b * 2**(F+G) >= T exactly when
        # b >= ceil(T / 2**(F+G)).
        levels = [-(-threshold >> NOISE_FRAC_BITS) for threshold in macro.thresholds]
        last_levels = [-(-threshold >> NOISE_FRAC_BITS) for threshold in partial_thresholds]
        with m.If(en):
            m.d.sync += [codes[key].eq(tree_sum(compare(b[key], levels, last_levels, b_last)))
                         for key in reads]
        return [codes[key] for key in reads]

    # Stages 1 .. H: the read hash arx32(h_v ^ read_word), keeping the top TABLE_BITS bits.
    hash_stages = len(ARX_STAGES)
    index = {}
    for key in reads:
        value = keys[key]
        for stage, (width, _, step) in enumerate(ARX_STAGES):
            register = Signal(width, name=name(f"hash{stage + 1}_", key), reset_less=True)
            with m.If(en):
                m.d.sync += register.eq(step(value))
            value = register
        index[key] = value[32 - TABLE_BITS:]
    # From stage 3: the active rows' noise scale, kept until the sample leaves the table.
    scales = Array(Const(scale, macro.scale_bits) for scale in macro.scales)
    scale = [delay(m, en, scales[active[p]], hash_stages + SAMPLE_REGISTERS - 1, f"scale{p}")
             for p in range(ab)]
    # Stage H + 1: ZTABLE, read on en: one copy per two reads, a ROM in one block RAM with its
    # two ports (far cheaper than LUTs per read); stage H + 2 registers the sample in the
    # block (a block RAM's data leaves it late: its output register where the target has one,
    # hwgen.lib.rom), then SAMPLE_REGISTERS fabric registers carry it to the multiplier's DSP,
    # in another column of the die: the last may sit beside it (with one register from the
    # block, the wire between them set the KWS top's Fmax, and again with one more at 16 reads
    # a cycle).
    tables = []
    words = [z & 0x7FFF for z in ztable()]      # 15-bit two's complement
    for pair in range(0, len(reads), 2):
        tables.append(RegisteredRom(words, width=15, target=target, style="block",
                                    ports=min(2, len(reads) - pair), name=f"ztable{pair // 2}"))
        m.submodules[f"ztable{pair // 2}"] = tables[-1]
    y_shape = signed(macro.adc_input_bits)
    b_delay = hash_stages + 1 + SAMPLE_REGISTERS - settle
    y_last = None
    if b_last is not None:          # the flag beside the ADC input, as b_late and y are
        y_last = Signal(name="y_last", reset_less=True)
        with m.If(en):
            m.d.sync += y_last.eq(delay(m, en, b_last, b_delay, "b_last"))
    for number, (i, j, p) in enumerate(reads):
        port = tables[number // 2].ports[number % 2]
        m.d.comb += [port.addr.eq(index[i, j, p]), port.en.eq(en)]
        z_near = Signal(signed(15), name=name("z_near", (i, j, p)))
        m.d.comb += z_near.eq(port.data.as_signed())
        z_far = delay(m, en, z_near, SAMPLE_REGISTERS - 1, name("z_far", (i, j, p)))
        z = delay(m, en, z_far, 1, name("z", (i, j, p)))
        # Beside z, the read's own copy of the scale: zero where the sample is (the product is
        # zero either way), so that each copy depends on its read and synthesis, which merges
        # identical registers bit by bit, keeps one beside each multiplier (one register
        # fanned out to a plane's multipliers across the die set the KWS top's Fmax next).
        own_scale = Signal(macro.scale_bits, name=name("scale", (i, j, p)), reset_less=True)
        with m.If(en):
            m.d.sync += own_scale.eq(Mux(z_far.any(), scale[p], 0))
        # Stage H + 3 + SAMPLE_REGISTERS: the scaled sample; then plus the bitline sum, the
        # ADC input.
        sample = Signal(y_shape, name=name("noise", (i, j, p)), reset_less=True)
        y = Signal(y_shape, name=name("adc_in", (i, j, p)), reset_less=True)
        b_late = delay(m, en, b[i, j, p], b_delay, name("b", (i, j, p)))
        # Then the comparators (a thermometer code: the thresholds rise), then their count,
        # the code, read off the code's bits (no adder tree).
        above = Signal(len(macro.thresholds), name=name("above", (i, j, p)), reset_less=True)
        with m.If(en):
            m.d.sync += [
                sample.eq(own_scale * z),
                y.eq((b_late << NOISE_FRAC_BITS) + sample),
                above.eq(Cat(*compare(y, macro.thresholds, partial_thresholds, y_last))),
                codes[i, j, p].eq(thermometer_count(above)),
            ]
    return [codes[key] for key in reads]
