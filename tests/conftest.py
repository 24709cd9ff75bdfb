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


def random_layer(rng, *, mw, mh, pe, simd, logits=False, name="layer") -> MVTULayer:
    """A layer with random weights and thresholds near mw/2, so outputs are mixed 0/1."""
    weights = rng.integers(0, 2, (mh, mw)).astype(bool)
    if logits:
        return MVTULayer(name, mw, mh, pe, simd, weights)
    spread = max(2, mw // 8)
    thresholds = rng.integers(mw // 2 - spread, mw // 2 + spread + 1, mh)
    thresholds[0] = 0            # edge cases: always fires ...
    thresholds[-1] = mw + 1      # ... and never fires (before invert)
    return MVTULayer(name, mw, mh, pe, simd, weights, thresholds, rng.integers(0, 2, mh).astype(bool))
