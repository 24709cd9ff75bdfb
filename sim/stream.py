"""Stream handshake helpers for cocotb testbenches (one place, reused by every testbench).

A transfer happens at a rising edge when ``valid`` and ``ready`` are both high. Each cycle the
testbench first drives its inputs just after the edge, then samples the settled values in the
read-only phase, so combinational ready/valid paths are seen as the hardware sees them.
"""
import random

__all__ = ["StreamSource", "StreamSink"]


class StreamSource:
    """Drives ``<prefix>valid`` / ``<prefix>payload`` from a list of words.

    Before each word the source stays idle for a cycle with probability ``idle``. Once
    ``valid`` is high, the word is held until accepted (valid never drops early).
    """

    def __init__(self, dut, prefix: str, words, *, idle: float, rng: random.Random):
        self.valid = getattr(dut, f"{prefix}valid")
        self.payload = getattr(dut, f"{prefix}payload")
        self.ready = getattr(dut, f"{prefix}ready")
        self.words = list(words)
        self.idle = idle
        self.rng = rng
        self.index = 0
        self._presenting = False
        self.valid.value = 0

    @property
    def done(self) -> bool:
        return self.index >= len(self.words)

    def drive(self):
        """Just after an edge: choose this cycle's valid/payload."""
        if not self._presenting and not self.done:
            self._presenting = not (self.idle and self.rng.random() < self.idle)
            if self._presenting:
                self.payload.value = self.words[self.index]
        self.valid.value = int(self._presenting)

    def sample(self) -> bool:
        """In the read-only phase: True if a transfer happens at the next edge."""
        if self._presenting and int(self.ready.value):
            self.index += 1
            self._presenting = False
            return True
        return False


class StreamSink:
    """Drives ``<prefix>ready`` low with probability ``backpressure`` and records transfers."""

    def __init__(self, dut, prefix: str, *, backpressure: float, rng: random.Random):
        self.valid = getattr(dut, f"{prefix}valid")
        self.payload = getattr(dut, f"{prefix}payload")
        self.ready = getattr(dut, f"{prefix}ready")
        self.backpressure = backpressure
        self.rng = rng
        self._ready = 0
        self.ready.value = 0

    def drive(self):
        self._ready = int(not (self.backpressure and self.rng.random() < self.backpressure))
        self.ready.value = self._ready

    def sample(self):
        """The word transferred at the next edge, or None."""
        if self._ready and int(self.valid.value):
            return int(self.payload.value)
        return None
