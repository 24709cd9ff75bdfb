"""The IR layer of a channel concatenation of two or more streams of one image size."""
from dataclasses import dataclass

from ..base import ENCODINGS, check_positive, is_count

__all__ = ["ConcatLayer"]


@dataclass(frozen=True)
class ConcatLayer:
    """Channel concatenation of ``len(channels)`` images of one size: each output pixel holds
    input 0's channels, then input 1's, and so on (channels innermost, so in stream order).

    Parameters
    ----------
    channels : channels of each input image, two or more.
    height, width : size of every input image and of the output.
    bits : bits per element, of every input and the output.
    encoding : the elements' encoding (one of :data:`hwgen.ops.ENCODINGS`), every input's.
    """
    name: str
    channels: tuple[int, ...]
    height: int
    width: int
    bits: int
    encoding: str
    op = "concat"

    def __post_init__(self):
        channels = tuple(self.channels) if isinstance(self.channels, (list, tuple)) else ()
        if len(channels) < 2 or not all(is_count(c) for c in channels):
            raise ValueError(f"channels must be two or more positive integers, "
                             f"not {self.channels!r}")
        object.__setattr__(self, "channels", channels)
        check_positive(self, "height", "width", "bits")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, "
                             f"not {self.encoding!r}")
        if self.encoding != "uint" and self.bits != 1:
            raise ValueError(f"{self.encoding} elements are one bit, not {self.bits!r}")

    @property
    def inputs(self) -> int:
        """Input images."""
        return len(self.channels)

    @property
    def out_channels(self) -> int:
        """Channels of the output image: the inputs' together."""
        return sum(self.channels)

    @property
    def pixels(self) -> int:
        return self.height * self.width

    def expected_cycles(self) -> int:
        """Cycles per frame at full rate: one pixel of every input per cycle."""
        return self.pixels

    def _meta(self) -> dict:
        return {"op": self.op, "name": self.name, "channels": list(self.channels),
                "height": self.height, "width": self.width, "bits": self.bits,
                "encoding": self.encoding}
