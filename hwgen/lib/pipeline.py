"""Pipeline registers shared by the stream units."""
from amaranth.hdl import Signal

__all__ = ["delay"]


def delay(m, en, value, cycles: int, name: str, *, reset_less: bool = True):
    """``value`` delayed by ``cycles`` registers that move on ``en``.

    The registers of data have no reset (``reset_less``): what they hold counts only beside a
    valid flag that has one, and a reset net to every datapath flip-flop (a net of as many
    sinks as the network has datapath registers) would cost routing for nothing.
    """
    for k in range(cycles):
        register = Signal.like(value, name=f"{name}_d{k + 1}", reset_less=reset_less)
        with m.If(en):
            m.d.sync += register.eq(value)
        value = register
    return value
