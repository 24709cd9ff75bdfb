"""Stream helpers for Amaranth's Python simulator (fast unit tests of single blocks)."""
import random
from typing import NamedTuple

from amaranth.hdl import ClockDomain, Module, Signal, Value, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

__all__ = ["simulate_stream", "simulate_after_reset", "simulate_streams", "StreamsRun",
           "JoinUnderTest", "join_words", "check_join_on_verilator"]


def simulate_stream(dut, inputs, count, *, idle=0.0, backpressure=0.0, seed=0, max_cycles=100_000):
    """Drive ``dut.i`` with ``inputs`` and collect ``count`` raw ``dut.o`` payloads.

    Random idle cycles on the input and random backpressure on the output, seeded.
    """
    rng = random.Random(seed)
    received = []

    async def bench(ctx):
        received.extend(await _stream(ctx, dut, inputs, count, rng, idle=idle,
                                      backpressure=backpressure, max_cycles=max_cycles))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return received


async def _stream(ctx, dut, inputs, count, rng, *, idle, backpressure, max_cycles) -> list:
    """Offer ``inputs`` on ``dut.i`` (a word, once offered, stays until taken; before each,
    idle cycles with probability ``idle``) while ``dut.o`` is not ready with probability
    ``backpressure``; return the first ``count`` raw payloads out, or fewer after
    ``max_cycles`` cycles."""
    # Raw payload bits on both sides, whatever the layout.
    in_payload, out_payload = Value.cast(dut.i.payload), Value.cast(dut.o.payload)
    received, pending, offered, elapsed = [], list(inputs), False, 0
    while len(received) < count and elapsed < max_cycles:
        if not offered:
            offered = bool(pending) and not (idle and rng.random() < idle)
        ctx.set(dut.i.valid, offered)
        if offered:
            ctx.set(in_payload, pending[0])
        ctx.set(dut.o.ready, not (backpressure and rng.random() < backpressure))
        _, _, taken, valid, ready, payload = await ctx.tick().sample(
            dut.i.ready, dut.o.valid, dut.o.ready, out_payload)
        if offered and taken:
            pending.pop(0)
            offered = False
        if valid and ready:
            received.append(payload)
        elapsed += 1
    return received


class StreamsRun(NamedTuple):
    """What :func:`simulate_streams` saw on each output stream, by port name: the raw payloads
    taken, and the cycle (from 0) each was taken in."""
    received: dict[str, list[int]]
    cycles: dict[str, list[int]]


def simulate_streams(dut, inputs: dict, counts: dict, *, idle=0.0, backpressure=0.0, seed=0,
                     max_cycles=100_000) -> StreamsRun:
    """Drive several input streams of ``dut`` and collect from several output streams.

    ``inputs`` maps an input port's name (``"i0"``) to its raw payload words, ``counts`` an
    output port's name (``"o"``) to how many payloads to collect from it. Each input has its
    own random idle cycles (before each word, with probability ``idle``; a word, once offered,
    stays until taken), each output its own random backpressure (not ready with probability
    ``backpressure``), all from one seeded generator. Runs until every output has its count,
    or ``max_cycles`` cycles.
    """
    rng = random.Random(seed)
    sources = {name: getattr(dut, name) for name in inputs}
    sinks = {name: getattr(dut, name) for name in counts}
    run = StreamsRun({name: [] for name in counts}, {name: [] for name in counts})

    async def bench(ctx):
        pending = {name: list(words) for name, words in inputs.items()}
        offered = dict.fromkeys(inputs, False)
        sampled = [port.ready for port in sources.values()]
        for port in sinks.values():
            sampled += [port.valid, port.ready, Value.cast(port.payload)]
        cycle = 0
        while cycle < max_cycles and any(len(run.received[name]) < count
                                         for name, count in counts.items()):
            for name, port in sources.items():
                if not offered[name]:
                    offered[name] = bool(pending[name]) and not (idle and rng.random() < idle)
                ctx.set(port.valid, offered[name])
                if offered[name]:
                    ctx.set(Value.cast(port.payload), pending[name][0])
            for port in sinks.values():
                ctx.set(port.ready, not (backpressure and rng.random() < backpressure))
            _, _, *values = await ctx.tick().sample(*sampled)
            for name, taken in zip(sources, values):
                if offered[name] and taken:
                    pending[name].pop(0)
                    offered[name] = False
            outputs = values[len(sources):]
            for index, name in enumerate(sinks):
                valid, ready, payload = outputs[3 * index:3 * index + 3]
                if valid and ready:
                    run.received[name].append(payload)
                    run.cycles[name].append(cycle)
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return run


def simulate_after_reset(dut, before, inputs, count, *, cycles=60, idle=0.0, backpressure=0.0,
                         seed=0, max_cycles=100_000):
    """``count`` raw ``dut.o`` payloads of ``inputs`` sent after a reset in mid-stream.

    For ``cycles`` cycles ``before`` is offered while the output is ready half the time, then
    not at all, so that a vector is part-consumed and results are in flight (in the pipeline,
    the output and skid registers); then the ``sync`` domain is reset for one cycle, and
    ``inputs`` go in with seeded idle cycles and backpressure, as :func:`simulate_stream`.
    Only transfers after the reset are returned: what a unit held before it must not reach
    them.
    """
    rng = random.Random(seed)
    m = Module()
    m.submodules.dut = dut
    m.domains.sync = domain = ClockDomain("sync")
    in_payload = Value.cast(dut.i.payload)
    received = []

    async def bench(ctx):
        pending = list(before)
        for step in range(cycles):
            ctx.set(dut.i.valid, bool(pending))
            if pending:
                ctx.set(in_payload, pending[0])
            # Ready half the time, then never: the pipeline, output and skid registers full.
            ctx.set(dut.o.ready, step < cycles // 2 and rng.random() < 0.5)
            _, _, taken = await ctx.tick().sample(dut.i.ready)
            if pending and taken:
                pending.pop(0)
        assert pending, "the reset should come in mid-stream: give more words before it"
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.o.ready, 0)
        ctx.set(domain.rst, 1)
        await ctx.delay(1.5e-8)     # one clock edge (a tick would raise DomainReset)
        ctx.set(domain.rst, 0)
        received.extend(await _stream(ctx, dut, inputs, count, rng, idle=idle,
                                      backpressure=backpressure, max_cycles=max_cycles))

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return received


def check_block_on_verilator(block, inputs, expected, frames, build_root, *, corrupt=False,
                             bank=None):
    """A block against its golden transfers on Verilator: under random idle cycles and
    backpressure, at full rate (its cycles per frame equal to ``expected_cycles()``), and for
    eight frames through the cocotb testbench too; with ``corrupt``, a wrong expectation (one
    bit of the middle transfer flipped) must fail. With ``bank`` (a
    :class:`~hwgen.lib.bank.Bank` holding ``block``), the bank's builds run it, selected: one
    harness and one cocotb build serve every block of the bank."""
    from hwgen.cosim import run_stream_test
    from hwgen.harness import run_harness
    dut, select = (block, None) if bank is None else (bank, bank.index(block))
    run = run_harness(dut, inputs, expected, idle=0.3, backpressure=0.5, seed=4,
                      build_root=build_root, name="stress", select=select)
    assert run.passed, run.message
    full = run_harness(dut, inputs, expected, build_root=build_root, name="full", select=select)
    assert full.passed, full.message
    per_frame = len(expected) // frames
    measured = (full.output_cycles[-1] - full.output_cycles[per_frame - 1]) / (frames - 1)
    assert measured == block.expected_cycles()
    if corrupt:
        wrong = list(expected)
        wrong[len(wrong) // 2] ^= 1
        assert not run_harness(dut, inputs, wrong, build_root=build_root, name="full",
                               select=select).passed
    some = 8
    slow = run_stream_test(dut, inputs[:some * len(inputs) // frames],
                           expected[:some * per_frame], idle=0.3, backpressure=0.5,
                           build_root=build_root, name="cocotb", select=select)
    assert slow.passed, slow.message


def check_network_on_verilator(graph, build_root, name: str) -> list[int]:
    """``graph`` as a whole network on Verilator, its FIFOs sized: RTL == golden at full rate
    (cycles per frame within 2 % of the bound) and under random idle cycles and backpressure.
    Returns the expected result words."""
    from hwgen.harness import run_harness
    from hwgen.hw.network import Network
    from hwgen.passes.fifo_sizing import size_fifos
    from hwgen.verify import harness_vectors
    sized = size_fifos(graph, build_root=build_root).graph
    network = Network(sized)
    _golden, inputs, expected = harness_vectors(network, sized.test_frames)
    full = run_harness(network, inputs, expected, build_root=build_root, name=f"{name}_full")
    assert full.passed, full.message
    assert 0.98 <= full.steady_interval(skip=3) / network.expected_cycles() <= 1.02
    stress = run_harness(network, inputs, expected, idle=0.3, backpressure=0.4, seed=5,
                         build_root=build_root, name=f"{name}_stress")
    assert stress.passed, stress.message
    return expected


def _port_width(component, name: str) -> int:
    return len(Value.cast(getattr(component, name).payload))


class JoinUnderTest(wiring.Component):
    """A block joining several streams (input ports ``i0``, ``i1``, ...) behind one input
    stream, for the single-stream Verilator harness.

    ``i`` carries one word for each of the join's inputs (its ``i0`` word at the lowest bits:
    :func:`join_words`); a :class:`~hwgen.ops.fork.hw.Fork` duplicates it to one
    :class:`~hwgen.ops.fifo.hw.StreamFIFO` per input (of ``depths``), each passing its input's
    word to the join. With ``throttle``, a one-word stage after each FIFO takes a word only in
    the cycles its own LFSR allows (about three in four), so that the join's inputs idle and
    arrive skewed each on its own. ``o`` is the join's output.
    """

    def __init__(self, join, depths, *, throttle: bool = False):
        self.join = join
        self.widths = [_port_width(join, f"i{k}") for k in range(len(depths))]
        self.depths = list(depths)
        self.throttle = throttle
        super().__init__({"i": In(stream.Signature(unsigned(sum(self.widths)))),
                          "o": Out(stream.Signature(unsigned(_port_width(join, "o"))))})

    def expected_cycles(self) -> int:
        return self.join.expected_cycles()

    def elaborate(self, platform):
        from hwgen.ops import ForkLayer
        from hwgen.ops.fifo.hw import StreamFIFO
        from hwgen.ops.fork.hw import Fork
        m = Module()
        # Not "join" and "fork": Verilog keywords.
        m.submodules.dut = join = self.join
        m.submodules.copies = fork = Fork(ForkLayer("copies", 1, sum(self.widths),
                                                    len(self.widths)))
        wiring.connect(m, wiring.flipped(self.i), fork.i)
        wiring.connect(m, join.o, wiring.flipped(self.o))
        offset = 0
        for k, (width, depth) in enumerate(zip(self.widths, self.depths)):
            fifo = StreamFIFO(shape=unsigned(width), depth=depth)
            m.submodules[f"fifo{k}"] = fifo
            copy, port = getattr(fork, f"o{k}"), getattr(join, f"i{k}")
            m.d.comb += [fifo.i.payload.eq(copy.payload[offset:offset + width]),
                         fifo.i.valid.eq(copy.valid), copy.ready.eq(fifo.i.ready)]
            offset += width
            if not self.throttle:
                wiring.connect(m, fifo.o, port)
                continue
            # A stage that refills only while its LFSR allows: valid stays up until taken.
            lfsr = Signal(16, init=0x1F35 * (k + 1) % 0xFFFF + 1, name=f"lfsr{k}")
            m.d.sync += lfsr.eq(lfsr[1:] | ((lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5]) << 15))
            full = Signal(name=f"full{k}")
            word = Signal(width, name=f"word{k}")
            m.d.comb += [port.valid.eq(full), port.payload.eq(word),
                         fifo.o.ready.eq(~(lfsr[0] & lfsr[1]) & (~full | port.ready))]
            with m.If(fifo.o.valid & fifo.o.ready):
                m.d.sync += [word.eq(fifo.o.payload), full.eq(1)]
            with m.Elif(port.ready):
                m.d.sync += full.eq(0)
        return m


def join_words(words, widths) -> list[int]:
    """The input words of a :class:`JoinUnderTest`: ``words[k]`` (the join's input ``k``'s
    words, all of one length) packed side by side, input 0's at the lowest bits."""
    if len({len(column) for column in words}) != 1:
        raise ValueError("every input needs as many words")
    joined = []
    for row in zip(*words):
        word, offset = 0, 0
        for value, width in zip(row, widths):
            word |= int(value) << offset
            offset += width
        joined.append(word)
    return joined


def check_join_on_verilator(join, words, expected, frames, build_root, *, depths):
    """A block joining several streams against its golden transfers on Verilator, through
    :class:`JoinUnderTest` with FIFOs of ``depths``: under random idle cycles and backpressure
    with each input throttled on its own; at full rate (its cycles per frame equal to
    ``expected_cycles()``); and a wrong expectation (one bit of the middle transfer flipped)
    must fail. ``words[k]`` are input ``k``'s transfers; each FIFO at least 3 deep (a
    :class:`~hwgen.ops.fifo.hw.StreamFIFO` of 2 passes a transfer every other cycle)."""
    from hwgen.harness import run_harness
    stressed = JoinUnderTest(join, depths, throttle=True)
    inputs = join_words(words, stressed.widths)
    run = run_harness(stressed, inputs, expected, idle=0.3, backpressure=0.5, seed=4,
                      build_root=build_root, name="stress")
    assert run.passed, run.message
    wrong = list(expected)
    wrong[len(wrong) // 2] ^= 1
    assert not run_harness(stressed, inputs, wrong, idle=0.3, backpressure=0.5, seed=4,
                           build_root=build_root, name="corrupt").passed
    full = run_harness(JoinUnderTest(join, depths), inputs, expected, build_root=build_root,
                       name="full")
    assert full.passed, full.message
    per_frame = len(expected) // frames
    measured = (full.output_cycles[-1] - full.output_cycles[per_frame - 1]) / (frames - 1)
    assert measured == join.expected_cycles()
