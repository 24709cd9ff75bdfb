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
           popcount(x & w) - popcount(x & ~w) (binary)
    a      active rows: popcount(x_p) (binary), WL (bipolar)
    u      top 8 bits of mix32(h_v ^ (n << 16 | s << 2 | j << 1 | p))
    y      b << (F + G)  +  SCALES[a] * ZTABLE[u]
    code   #{i : y >= T_i}

``h_v``, the hash state of the input vector, comes from :class:`VectorKeys`, a short pipeline
that runs two vectors ahead of the one being read. The MVTU shift-adds the codes
(``sum code << (j + p)``) into its accumulator.
"""
from amaranth.hdl import Array, Cat, Const, Module, Signal, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..cim.macro import MacroSpec
from ..cim.noise import MIX_MULTIPLIERS, NOISE_FRAC_BITS, TABLE_BITS, layer_key, mix32, ztable
from .popcount import popcount, tree_sum

__all__ = ["VectorKeys", "CimMacro", "macro_ports", "render_macro"]

_MASK = 0xFFFFFFFF


def _mix_start(x):
    """First half of ``mix32``: ``(x ^ x >> 16) * M1`` modulo 2**32 (an Amaranth value)."""
    return ((x ^ (x >> 16)) * MIX_MULTIPLIERS[0])[:32]


def _mix_finish(x):
    """Second half of ``mix32``: ``y = (x ^ x >> 15) * M2``, then ``y ^ y >> 16``."""
    y = ((x ^ (x >> 15)) * MIX_MULTIPLIERS[1])[:32]
    return y ^ (y >> 16)


def _start_const(x: int) -> int:
    x &= _MASK
    return ((x ^ (x >> 16)) * MIX_MULTIPLIERS[0]) & _MASK


class VectorKeys:
    """``h_v`` of the input vector being issued, ``v`` counting vectors since reset.

    Registers ``h0 = h_v``, ``h1 = h_{v+1}``, ``half`` = the first half of ``mix32`` for
    ``v + 2`` and ``count = v + 3`` (wrapping at 2**32); :meth:`next` (asserted when the last
    transfer of a vector issues) shifts them, so each register stage holds one multiplier.
    Reset values are computed at elaboration time.
    """

    def __init__(self, macro: MacroSpec, layer_index: int):
        self.layer_state = layer_key(macro.seed, layer_index)
        state = self.layer_state
        self.h0 = Signal(32, init=mix32(state ^ 0), name="hv0")
        self.h1 = Signal(32, init=mix32(state ^ 1), name="hv1")
        self.half = Signal(32, init=_start_const(state ^ 2), name="hv_half")
        self.count = Signal(32, init=3, name="hv_count")

    def elaborate(self, m: Module, next_vector):
        with m.If(next_vector):
            m.d.sync += [
                self.h0.eq(self.h1),
                self.h1.eq(_mix_finish(self.half)),
                self.half.eq(_mix_start(self.count ^ self.layer_state)),
                self.count.eq(self.count + 1),
            ]


def macro_latency(macro: MacroSpec) -> int:
    """``en`` cycles from a read to its codes: 2 without noise (cells, ADC), 4 with it (cells
    and the hash's first multiply, its second and the table, the ADC)."""
    return 4 if macro.noisy else 2


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
    import jinja2
    from ..resources import data_dir
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

    Attributes
    ----------
    latency : int
        ``en`` cycles from a read to its codes (:func:`macro_latency`).
    """

    def __init__(self, layer):
        if layer.macro is None:
            raise ValueError(f"layer {layer.name!r} is not a cim layer")
        self.layer = layer
        self.latency = macro_latency(layer.macro)
        ports = {name: (In if direction == "in" else Out)(width)
                 for name, (direction, width) in macro_ports(layer).items()}
        super().__init__(ports)

    def elaborate(self, platform):
        from .mvtu import weight_words      # the digital MVTU's layout, WL = SIMD elements
        layer, macro = self.layer, self.layer.macro
        pe, wl, wb, ab = layer.pe, macro.wordlines, macro.weight_bits, macro.act_bits
        m = Module()
        m.submodules.cells = cells = memory.Memory(
            shape=unsigned(pe * wb * wl), depth=layer.nf * layer.sf,
            init=weight_words(layer))
        cell_read = cells.read_port()
        m.d.comb += [cell_read.addr.eq(self.block * layer.sf + self.group),
                     cell_read.en.eq(self.en)]
        keys = VectorKeys(macro, layer.macro_key)
        keys.elaborate(m, self.en & self.last)
        # Stage A: the read's cells (memory), its inputs and noise key.
        vector = Signal(wl * ab)
        nbase = Signal(range(max(2, layer.mh)))
        group = Signal.like(self.group)
        hv = Signal(32)
        with m.If(self.en):
            m.d.sync += [vector.eq(self.wl), nbase.eq(self.block * pe), group.eq(self.group),
                         hv.eq(keys.h0)]
        rows = [[cell_read.data[(i * wb + j) * wl:(i * wb + j + 1) * wl] for j in range(wb)]
                for i in range(pe)]
        codes = _reads(m, macro, pe=pe, en=self.en, rows=rows, vector=vector, nbase=nbase,
                       group=group, hv=hv)
        m.d.comb += self.codes.eq(Cat(*codes))
        return m


def _reads(m: Module, macro: MacroSpec, *, pe: int, en, rows, vector, nbase, group,
           hv) -> list:
    """The ADC codes (registered; ``PE * WB * AB`` of them in (i, j, p) order) of one wordline
    group read, 1 (no noise) or 3 register stages after the stage whose values are given.
    All registers move on ``en``.

    ``rows[i][j]``: the WL weight bits of PE ``i``'s slice ``j``; ``vector``: WL elements of
    ``act_bits`` bits; ``nbase``: the first PE's neuron index; ``group``: ``s``; ``hv``: the
    vector's hash state.
    """
    wl, wb, ab = macro.wordlines, macro.weight_bits, macro.act_bits
    planes = [Signal(wl, name=f"x_plane{p}") for p in range(ab)]
    for p in range(ab):
        m.d.comb += planes[p].eq(Cat(*(vector[k * ab + p] for k in range(wl))))
    bipolar = macro.encoding == "bipolar"
    b_shape = signed(max(wl.bit_length() + 1, 2))
    a_shape = unsigned(wl.bit_length())

    def bitline(row, plane):
        if bipolar:
            return (popcount(~(row ^ plane)) << 1) - wl
        return popcount(row & plane) - popcount(~row & plane)

    reads = [(i, j, p) for i in range(pe) for j in range(wb) for p in range(ab)]
    b = {key: Signal(b_shape, name=f"b{key[0]}_{key[1]}{key[2]}") for key in reads}
    active = [Signal(a_shape, name=f"active{p}") for p in range(ab)]
    codes = {key: Signal(macro.adc_bits, name=f"code{key[0]}_{key[1]}{key[2]}") for key in reads}
    thresholds = macro.thresholds

    def ladder(y):
        return tree_sum(y >= threshold for threshold in thresholds)

    if not macro.noisy:
        for key in reads:
            m.d.comb += b[key].eq(bitline(rows[key[0]][key[1]], planes[key[2]]))
        with m.If(en):
            m.d.sync += [codes[key].eq(ladder(b[key] << NOISE_FRAC_BITS)) for key in reads]
        return [codes[key] for key in reads]

    # Stage 1: bitline sums, active rows, the read hash's first multiply.
    half = {key: Signal(32, name=f"hash_half{key[0]}_{key[1]}{key[2]}") for key in reads}
    with m.If(en):
        for p in range(ab):
            m.d.sync += active[p].eq(wl if bipolar else popcount(planes[p]))
        for (i, j, p) in reads:
            word = ((nbase + i) << 16) | (group << 2) | (j << 1) | p
            m.d.sync += [b[i, j, p].eq(bitline(rows[i][j], planes[p])),
                         half[i, j, p].eq(_mix_start(hv ^ word))]
    # Stage 2: the table index (second multiply, top bits) addresses ZTABLE, read on en.
    table = memory.Memory(shape=signed(15), depth=1 << TABLE_BITS, init=ztable())
    m.submodules.ztable = table
    b2 = {key: Signal(b_shape, name=f"b2_{key[0]}_{key[1]}{key[2]}") for key in reads}
    active2 = [Signal(a_shape, name=f"active2_{p}") for p in range(ab)]
    z = {}
    for key in reads:
        port = table.read_port()
        m.d.comb += [port.addr.eq(_mix_finish(half[key])[32 - TABLE_BITS:]), port.en.eq(en)]
        z[key] = port.data
    with m.If(en):
        m.d.sync += [b2[key].eq(b[key]) for key in reads]
        m.d.sync += [active2[p].eq(active[p]) for p in range(ab)]
    # Stage 3: scale the sample, add the bitline sum, the ADC's comparator ladder.
    scales = Array(Const(scale, macro.scale_bits) for scale in macro.scales)
    y_shape = signed(macro.adc_input_bits)
    for (i, j, p) in reads:
        y = Signal(y_shape, name=f"adc_in{i}_{j}{p}")
        m.d.comb += y.eq((b2[i, j, p] << NOISE_FRAC_BITS) + scales[active2[p]] * z[i, j, p])
        with m.If(en):
            m.d.sync += codes[i, j, p].eq(ladder(y))
    return [codes[key] for key in reads]
