"""The keyword-spotting example ``examples/kws.yaml``: its shipped IR is what ``hwgen build``
uses (no data, no training), it keeps a noisy cim layer, reaches the accuracy goal and folds for
the cycle goal, and its RTL equals the golden model with the macro's seeded noise on."""
from pathlib import Path

import pytest

from hwgen.golden import run_graph
from hwgen.passes.fold import auto_fold
from hwgen.spec import load_spec
from tests.conftest import export_shipped

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "examples" / "kws.yaml"
#: 150,000 inferences/s at 125 MHz.
CYCLE_GOAL = 833
#: Test accuracy on held-out synthetic voices, golden model with the macro's noise on.
ACCURACY_GOAL = 0.90


@pytest.fixture(scope="module")
def kws(tmp_path_factory):
    spec = load_spec(SPEC)
    workspace, graph, said = export_shipped(spec, tmp_path_factory.mktemp("kws"))
    return spec, workspace, graph, said


def test_shipped_ir_and_checkpoint_match_the_spec(kws):
    spec, workspace, graph, said = kws
    assert said == [f"reusing shipped IR {spec.prebuilt_path / 'model.ir.npz'} "
                    f"(no data, training or export needed)"]
    assert workspace.train()["bnn_accuracy"] == graph.meta["bnn_accuracy"]
    assert workspace.reused[-1] == f"shipped checkpoint {spec.prebuilt_path / 'checkpoint.pt'}"
    assert graph.meta["class_names"][:2] == ["_silence_", "_unknown_"]
    # 10 coefficients (channels) x 49 frames of 4 bits, which the first layer reads as codes
    assert (graph.input_shape, graph.input_bits, graph.classes) == ((10, 49, 1), 4, 12)
    assert graph.mvtus()[0].in_encoding == "thermometer"


def test_a_noisy_cim_layer_and_its_accuracy(kws):
    _, _, graph, _ = kws
    cim = [layer for layer in graph.mvtus() if layer.macro is not None]
    assert cim and all(layer.macro.noise != "none" and layer.macro.sigma > 0 for layer in cim)
    accuracy = run_graph(graph).accuracy(graph.test_labels)
    assert accuracy >= ACCURACY_GOAL and len(graph.test_labels) > 2000
    assert abs(accuracy - graph.meta["golden_accuracy"]) < 1e-12


def test_folds_for_the_cycle_goal(kws):
    spec, _, graph, _ = kws
    folded = auto_fold(graph, target_cycles=spec.hardware.target_cycles,
                       fixed=tuple(graph.meta.get("fixed_folding", ())))
    assert folded.expected_cycles() <= spec.hardware.target_cycles <= CYCLE_GOAL


@pytest.mark.cocotb
def test_rtl_equals_golden_with_the_noise_on(kws, sim_build_root):
    from hwgen.verify import verify_network
    spec, _, graph, _ = kws
    folded = auto_fold(graph, target_cycles=spec.hardware.target_cycles,
                       fixed=tuple(graph.meta.get("fixed_folding", ())))
    result = verify_network(folded, fifo_depth=spec.hardware.fifo_depth, frames=24,
                            build_root=sim_build_root / "kws", seed=spec.seed)
    assert result.frames == 24 and result.mismatches == 0 and result.stress_passed
    assert result.cycles_ratio <= 1.02
