"""Payload words of streams: how golden tensors map to the raw bits on ``payload``.

A transfer carrying ``per_word`` elements of ``width`` bits holds element ``k`` at bits
``k*width .. k*width+width-1`` (two's complement for negative values), matching Amaranth's
``ArrayLayout`` and the MVTU's ``Cat`` of PE bits.
"""
import numpy as np

__all__ = ["pack_words", "unpack_words"]


def pack_words(values, *, width: int, per_word: int) -> list[int]:
    """Flatten ``values`` (rows of elements) into words of ``per_word`` elements each."""
    flat = np.asarray(values, dtype=np.int64).reshape(-1)
    if len(flat) % per_word:
        raise ValueError(f"{len(flat)} elements do not fill words of {per_word}")
    lo, hi = -(1 << (width - 1)) if width > 1 else 0, (1 << width) - 1
    if len(flat) and (flat.min() < lo or flat.max() > hi):
        raise ValueError(f"values outside {width}-bit range")
    mask = (1 << width) - 1
    words = []
    for start in range(0, len(flat), per_word):
        word = 0
        for k, value in enumerate(flat[start:start + per_word]):
            word |= (int(value) & mask) << (k * width)
        words.append(word)
    return words


def unpack_words(words, *, width: int, per_word: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack_words`: (len(words), per_word) int64."""
    mask = (1 << width) - 1
    out = np.empty((len(words), per_word), dtype=np.int64)
    for row, word in enumerate(words):
        for k in range(per_word):
            value = (int(word) >> (k * width)) & mask
            if signed and value >> (width - 1):
                value -= 1 << width
            out[row, k] = value
    return out
