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
    skid = Signal.like(payload, name="skid")
    skid_valid = Signal(name="skid_valid")
    with m.If(~o.valid | o.ready):
        with m.If(skid_valid):
            m.d.sync += [o.payload.eq(skid), o.valid.eq(1), skid_valid.eq(0)]
        with m.Else():
            m.d.sync += [o.payload.eq(payload), o.valid.eq(valid)]
    with m.Elif(valid & ~skid_valid):
        m.d.sync += [skid.eq(payload), skid_valid.eq(1)]
    return ~skid_valid
