"""The keyword-spotting examples (``examples/kws.yaml`` and the wide ``examples/kws_wide.yaml``):
their shipped IRs are what ``hwgen build`` uses (no data, no training), they keep a noisy cim
layer and fold for the cycle goal, and kws.yaml's RTL equals the golden model with the macro's
seeded noise on (kws_wide's is checked by ``hwgen sim``: its Verilator build takes minutes)."""
from pathlib import Path

import pytest

from hwgen.flow import Workspace
from hwgen.golden import run_graph
from hwgen.ir.folding import auto_fold
from hwgen.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
SPECS = {"kws": REPO / "examples" / "kws.yaml", "kws_wide": REPO / "examples" / "kws_wide.yaml"}
#: Frame shape and element bits: layout sequence (10 coefficients as channels), 4-bit
#: coefficients (kws_wide's first layer reads them as thermometer codes).
INPUTS = {"kws": ((10, 49, 1), 4), "kws_wide": ((10, 49, 1), 4)}
#: The first MVTU's input encoding.
FIRST = {"kws": "uint", "kws_wide": "thermometer"}
#: 150,000 inferences/s at 125 MHz.
CYCLE_GOAL = 833


def _shipped(name, tmp_path_factory):
    said = []
    spec = load_spec(SPECS[name])
    workspace = Workspace.create(spec, tmp_path_factory.mktemp(name), say=said.append)
    import hwgen.data

    def no_data(*args, **kwargs):
        raise AssertionError("the shipped IR should make the data unnecessary")
    original, hwgen.data.load_dataset = hwgen.data.load_dataset, no_data
    try:
        graph = workspace.export()
    finally:
        hwgen.data.load_dataset = original
    return spec, workspace, graph, said


@pytest.fixture(scope="module", params=sorted(SPECS))
def shipped(request, tmp_path_factory):
    return _shipped(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def kws(tmp_path_factory):
    return _shipped("kws", tmp_path_factory)


def test_shipped_ir_and_checkpoint_match_the_spec(shipped):
    spec, workspace, graph, said = shipped
    assert said == [f"reusing shipped IR {spec.prebuilt_path / 'model.ir.npz'} "
                    f"(no data, training or export needed)"]
    assert workspace.train()["bnn_accuracy"] == graph.meta["bnn_accuracy"]
    assert workspace.reused[-1] == f"shipped checkpoint {spec.prebuilt_path / 'checkpoint.pt'}"
    assert graph.meta["class_names"][:2] == ["_silence_", "_unknown_"]
    assert (graph.input_shape, graph.input_bits) == INPUTS[spec.name] and graph.classes == 12
    assert graph.mvtus()[0].in_encoding == FIRST[spec.name]


def test_a_noisy_cim_layer_and_its_accuracy(shipped):
    _, _, graph, _ = shipped
    cim = [layer for layer in graph.mvtus() if layer.macro is not None]
    assert cim and all(layer.macro.noise != "none" and layer.macro.sigma > 0 for layer in cim)
    accuracy = run_graph(graph).accuracy(graph.test_labels)
    assert accuracy > 1 / graph.classes + 0.3                # far above chance
    assert abs(accuracy - graph.meta["golden_accuracy"]) < 1e-12


def test_folds_for_the_cycle_goal(shipped):
    spec, _, graph, _ = shipped
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
