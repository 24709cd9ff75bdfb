import os
from pathlib import Path

import numpy as np
import pytest

from hwgen.ir import MVTULayer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def sim_build_root():
    """Verilator builds, one directory per design (kept between runs in ``build/test-sim``)."""
    root = Path(os.environ.get("HWGEN_TEST_SIM_BUILD", REPO / "build" / "test-sim"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def random_layer(rng, *, mw, mh, pe, simd, logits=False, name="layer", in_encoding="bipolar",
                 in_bits=1, pixels=1) -> MVTULayer:
    """A layer with random weights and thresholds near the middle of the dot products of random
    inputs, so outputs are mixed 0/1."""
    weights = rng.integers(0, 2, (mh, mw)).astype(bool)
    shape = dict(in_encoding=in_encoding, in_bits=in_bits, pixels=pixels)
    if logits:
        return MVTULayer(name, mw, mh, pe, simd, weights, **shape)
    layer = MVTULayer(name, mw, mh, pe, simd, weights, **shape)
    low, high = layer.dot_range
    spread = max(2, int(np.sqrt(mw) * layer.in_max / 2))
    thresholds = rng.integers(-spread, spread + 1, mh)
    thresholds[0] = low          # edge cases: always fires ...
    thresholds[-1] = high + 1    # ... and never fires (before invert)
    return MVTULayer(name, mw, mh, pe, simd, weights, thresholds,
                     rng.integers(0, 2, mh).astype(bool), **shape)
