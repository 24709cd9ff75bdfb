"""The MVTU's weight memory image, shared by both backends: the digital block's weight memory
and the compute-in-memory macro's cell array (whose wordline group is the SIMD elements)."""
import numpy as np

from .layer import MVTULayer

__all__ = ["weight_words"]


def weight_words(layer: MVTULayer) -> list[int]:
    """Weight memory contents: word ``nf * SF + sf`` holds, for PE ``i`` and weight bit slice
    ``j`` (one slice but for a cim layer's 2-bit weights), bit ``j`` of the codes
    ``weights[nf*PE + i, sf*SIMD : (sf+1)*SIMD]`` at ``[(i*WB + j)*SIMD ...]``."""
    wb, simd = layer.weight_bits, layer.simd
    codes = layer.weights.astype(np.int64)
    words = []
    for nf in range(layer.nf):
        for sf in range(layer.sf):
            word = 0
            for i in range(layer.pe):
                row = codes[nf * layer.pe + i, sf * simd:(sf + 1) * simd]
                for j in range(wb):
                    for k, code in enumerate(row):
                        word |= ((int(code) >> j) & 1) << ((i * wb + j) * simd + k)
            words.append(word)
    return words
