"""Pipeline registers shared by the stream units."""
from amaranth.hdl import Signal

__all__ = ["delay"]


def delay(m, en, value, cycles: int, name: str):
    """``value`` delayed by ``cycles`` registers that move on ``en``."""
    for k in range(cycles):
        register = Signal.like(value, name=f"{name}_d{k + 1}")
        with m.If(en):
            m.d.sync += register.eq(value)
        value = register
    return value
