# amaranth: UnusedElaboratable=no
"""The board's protocol logic in Amaranth's simulator against the host-side protocol module:
frames packed as ``Network.input_words`` packs them, every error answer, resynchronisation,
and answers that :class:`~hwgen.board.protocol.ReplyDecoder` reads back."""
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.board import protocol
from hwgen.board.link import ReplyEncoder, RequestParser
from hwgen.board.protocol import Error, Info, Result
from hwgen.lib.packing import pack_words


def parse(parser, data, *, take_frames=True):
    """Feed ``data`` to ``parser`` one byte per cycle (with idle cycles between some).
    Returns [(seq, words)] of the frames handed on, in order, and the answers queued."""
    frames, answers = [], []
    words = parser.words_per_frame

    async def testbench(ctx):
        rng = random.Random(1)
        pending = list(data)
        idle = 0
        while pending or idle < 8:
            if pending and rng.random() < 0.7:
                ctx.set(parser.i.valid, 1)
                ctx.set(parser.i.payload, pending.pop(0))
                idle = 0
            else:
                ctx.set(parser.i.valid, 0)
                idle += not pending
            ctx.set(parser.control.ready, 1)
            if ctx.get(parser.control.valid):
                answer = ctx.get(parser.control.payload)
                answers.append("info" if answer.info else Error(int(answer.code),
                                                                int(answer.seq)))
            head = ctx.get(parser.frames.valid) and take_frames
            if head:
                slot = int(ctx.get(parser.frames.payload.slot))
                seq = int(ctx.get(parser.frames.payload.seq))
            await ctx.tick()
            if head:
                # Read the frame's words (bytes pause meanwhile), then free its slot.
                read = []
                for index in range(words):
                    ctx.set(parser.read_addr, slot * words + index)
                    ctx.set(parser.read_en, 1)
                    ctx.set(parser.i.valid, 0)
                    await ctx.tick()
                    read.append(ctx.get(parser.read_data))
                ctx.set(parser.read_en, 0)
                ctx.set(parser.frames.ready, 1)
                await ctx.tick()
                ctx.set(parser.frames.ready, 0)
                frames.append((seq, read))

    simulator = Simulator(parser)
    simulator.add_clock(1e-6)
    simulator.add_testbench(testbench)
    simulator.run()
    return frames, answers


@pytest.mark.parametrize("input_bits, per_word, elements", [(8, 3, 12), (1, 8, 16), (4, 1, 5),
                                                            (7, 2, 6)])
def test_frames_are_packed_like_input_words(input_bits, per_word, elements):
    rng = np.random.default_rng(input_bits)
    frames = rng.integers(0, 1 << input_bits, (5, elements))
    if input_bits == 8:
        frames[0, :2] = [protocol.SYNC, protocol.ESC]       # stuffed
    parser = RequestParser(elements=elements, input_bits=input_bits, per_word=per_word)
    data = b"".join(protocol.encode_frame(seq, frame, input_bits=input_bits)
                    for seq, frame in zip([7, 0xA5, 0, 255, 3], frames))
    got, answers = parse(parser, data)
    assert answers == []
    assert [seq for seq, _ in got] == [7, 0xA5, 0, 255, 3]
    for (_, words), frame in zip(got, frames):
        assert words == pack_words(frame, width=input_bits, per_word=per_word)


def test_errors_and_resynchronisation():
    elements, bits = 6, 3
    parser = RequestParser(elements=elements, input_bits=bits, per_word=2)
    good = [1, 2, 3, 4, 5, 6]
    frame = protocol.encode_frame(9, good, input_bits=bits)
    bad_crc = bytearray(frame)
    bad_crc[-1] ^= 1
    out_of_range = protocol.stuff(bytes([protocol.CMD_FRAME, 4, 1, 2, 8, 4, 5, 6]))
    data = (b"\x00\x13garbage" + frame[:5]               # noise, then a frame cut short
            + frame                                     # resynchronised at its SYNC
            + bytes(bad_crc) + out_of_range
            + protocol.stuff(b"Z")                      # unknown command
            + protocol.encode_info_query()
            + bytes([protocol.SYNC, protocol.CMD_INFO])  # cut short ...
            + protocol.encode_frame(10, good[::-1], input_bits=bits))   # ... by this one
    got, answers = parse(parser, data)
    assert [(seq, words) for seq, words in got] == [
        (9, pack_words(good, width=bits, per_word=2)),
        (10, pack_words(good[::-1], width=bits, per_word=2))]
    assert answers == [Error(protocol.ERROR_CHECK, 9), Error(protocol.ERROR_RANGE, 4),
                       Error(protocol.ERROR_COMMAND, 0), "info"]


def test_busy_when_every_slot_is_full():
    parser = RequestParser(elements=4, input_bits=2, per_word=4, slots=2)
    data = b"".join(protocol.encode_frame(seq, [seq % 4, 1, 2, 3], input_bits=2)
                    for seq in range(4))
    got, answers = parse(parser, data, take_frames=False)
    assert answers == [Error(protocol.ERROR_BUSY, 2), Error(protocol.ERROR_BUSY, 3)]


def test_parser_agrees_with_the_request_decoder():
    """Random byte soup (pieces of good messages, noise, cut messages): the parser hands on
    exactly the frames and answers the protocol module's model of the board does."""
    rng = random.Random(5)
    elements, bits = 4, 8
    pieces = []
    for seq in range(30):
        message = protocol.encode_frame(seq, [rng.randrange(256) for _ in range(elements)],
                                        input_bits=bits)
        choice = rng.random()
        if choice < 0.2:
            message = message[:rng.randrange(1, len(message))]
        elif choice < 0.3:
            message = bytearray(message)
            message[rng.randrange(1, len(message))] = rng.randrange(256)
            message = bytes(message)
        elif choice < 0.35:
            message = protocol.encode_info_query()
        pieces.append(message)
        if rng.random() < 0.2:
            pieces.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4))))
    data = b"".join(pieces)
    model = protocol.RequestDecoder(elements=elements, input_bits=bits)
    expected = model.feed(data)
    parser = RequestParser(elements=elements, input_bits=bits, per_word=2, slots=2)
    got, answers = parse(parser, data)
    frames = [value for kind, value in expected if kind == "frame"]
    assert [seq for seq, _ in got] == [seq for seq, _ in frames]
    assert [words for _, words in got] == [pack_words(e, width=bits, per_word=2)
                                          for _, e in frames]
    assert answers == [value if kind == "error" else "info" for kind, value in expected
                       if kind != "frame"]
    assert len(frames) > 15


def encode(encoder, results, controls):
    """Bytes the encoder sends for ``results`` (Result) and ``controls`` (control payloads),
    all offered at once, under random backpressure."""
    out = bytearray()

    async def testbench(ctx):
        rng = random.Random(2)
        results_left, controls_left = list(results), list(controls)
        quiet = 0
        while results_left or controls_left or quiet < 40:
            if results_left:
                result = results_left[0]
                ctx.set(encoder.result.valid, 1)
                ctx.set(encoder.result.payload, {"seq": result.seq, "label": result.label,
                                                 "logits": list(result.logits)})
            else:
                ctx.set(encoder.result.valid, 0)
            if controls_left:
                ctx.set(encoder.control.valid, 1)
                ctx.set(encoder.control.payload, controls_left[0])
            else:
                ctx.set(encoder.control.valid, 0)
            ready = rng.random() < 0.6
            ctx.set(encoder.o.ready, ready)
            took_result = results_left and ctx.get(encoder.result.ready)
            took_control = controls_left and ctx.get(encoder.control.ready) \
                and ctx.get(encoder.control.valid)
            if ready and ctx.get(encoder.o.valid):
                out.append(ctx.get(encoder.o.payload))
                quiet = 0
            elif not results_left and not controls_left:
                quiet += 1
            await ctx.tick()
            if took_result:
                results_left.pop(0)
            if took_control:
                controls_left.pop(0)

    simulator = Simulator(encoder)
    simulator.add_clock(1e-6)
    simulator.add_testbench(testbench)
    simulator.run()
    return bytes(out)


@pytest.mark.parametrize("classes, logit_bits", [(4, 6), (3, 12), (10, 16), (2, 9)])
def test_encoder_answers_decode(classes, logit_bits):
    rng = random.Random(classes)
    info = Info(elements=490, input_bits=8, classes=classes,
                logit_bytes=protocol.logit_bytes(logit_bits), network_id=0xA5DB1234)
    encoder = ReplyEncoder(info=info, logit_bits=logit_bits, label_bits=4)
    low, high = -(1 << (logit_bits - 1)), (1 << (logit_bits - 1)) - 1
    results = [Result(seq=seq, label=rng.randrange(classes),
                      logits=tuple(rng.choice([low, high, -1, 0, rng.randint(low, high)])
                                   for _ in range(classes)))
               for seq in [0, protocol.SYNC, protocol.ESC, 200, 7]]
    controls = [{"info": 1, "code": 0, "seq": 0}, {"info": 0, "code": 3, "seq": protocol.SYNC}]
    data = encode(encoder, results, controls)
    decoder = protocol.ReplyDecoder()
    decoder.expect(info)
    answers = decoder.feed(data)
    assert decoder.dropped == 0
    # Answers go first: the info answer is queued before the first result is taken.
    assert answers[0] == info
    assert sorted([a for a in answers if isinstance(a, Result)], key=results.index) == results
    assert [a for a in answers if isinstance(a, Result)] == results      # in order
    assert Error(3, protocol.SYNC) in answers and len(answers) == 7
    # Exactly what the host-side encoder writes.
    expected = b"".join(protocol.encode_result(r, logit_bytes=info.logit_bytes)
                        for r in results)
    assert b"".join(protocol.encode_result(a, logit_bytes=info.logit_bytes)
                    for a in answers if isinstance(a, Result)) == expected
    assert protocol.encode_info(info) in data


@pytest.mark.parametrize("changes, message", [
    (dict(elements=10, per_word=4), r"elements must be a multiple of per_word=4, not 10"),
    (dict(input_bits=9), r"input_bits must be an integer within 1..8, not 9"),
    (dict(slots=0), r"slots must be a positive integer, not 0"),
])
def test_parser_rejects(changes, message):
    with pytest.raises(ValueError, match=message):
        RequestParser(**{**dict(elements=8, input_bits=2, per_word=2), **changes})
