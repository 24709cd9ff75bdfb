"""A stream's output register with a skid register behind it: the producer's pipeline stalls on
a register, never on the consumer's ``ready`` through logic."""
from amaranth.hdl import Signal, Value

__all__ = ["skid_output"]


def skid_output(m, o, payload, valid) -> Value:
    """Drive the stream ``o`` (``valid``, ``payload`` registered) from a producer's pipeline.

    Returns ``advance``, high while the skid register is empty: in such a cycle the pipeline
    moves and offers its result ``valid`` / ``payload``, which goes to the output register when
    that is free or being read, else to the skid register. While the skid register is full the
    pipeline holds, and its result waits. So ``advance`` comes from a register, the pipeline's
    enables and its ``i.ready`` do not depend on ``o.ready``, and one transfer per cycle flows
    while ``o.ready`` stays high; the skid register fills only when ``o.ready`` falls.
    """
    width = len(Value.cast(payload))
    # Raw registers, ``o`` wired to them: Yosys's ABC9 reintegration can trip over the field
    # wires of a View port ("o__payload[3]") named like bits of a register it maps logic in
    # front of (YosysHQ/yosys#4349).
    # The payloads have no reset: they count only beside their valid flags.
    out, out_valid = Signal(width, name="out", reset_less=True), Signal(name="out_valid")
    skid, skid_valid = Signal(width, name="skid", reset_less=True), Signal(name="skid_valid")
    # ``advance`` is a register of its own, ``~skid_valid`` always: the output registers'
    # multiplexers sit by the consumer, the pipeline's enables by the producer, and one
    # flip-flop for both was placed by either, its wire to the other setting the clock (a
    # window generator's reader logic 3.6 ns away on the KWS top). Its reset value differs from
    # ``skid_valid``'s, so synthesis, which merges registers alike, keeps both.
    advance = Signal(name="advance", init=1)
    m.d.comb += [o.payload.eq(out), o.valid.eq(out_valid)]
    with m.If(~out_valid | o.ready):
        with m.If(skid_valid):
            m.d.sync += [out.eq(skid), out_valid.eq(1), skid_valid.eq(0), advance.eq(1)]
        with m.Else():
            m.d.sync += [out.eq(payload), out_valid.eq(valid)]
    with m.Elif(valid & ~skid_valid):
        m.d.sync += [skid.eq(payload), skid_valid.eq(1), advance.eq(0)]
    return advance
