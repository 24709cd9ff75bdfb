"""The keyword spotters beyond a plain chain of convs: ``examples/kws_dscnn.yaml`` (MLPerf Tiny's
depthwise-separable CNN, binarized) and ``examples/kws_tcresnet.yaml`` (a binarized TC-ResNet,
residual adds, its last block on the noisy CIM macro). Their shipped IRs are what ``hwgen
build`` uses (no data, no training), their golden accuracy is the one they were shipped with,
they fold for their cycle targets, and their RTL equals the golden model on Verilator (the
macro's seeded noise on)."""
from pathlib import Path

import pytest

from hwgen.golden import run_graph
from hwgen.passes.fold import auto_fold
from hwgen.spec import load_spec
from tests.conftest import export_shipped

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = {name: REPO / "examples" / f"{name}.yaml" for name in ("kws_dscnn", "kws_tcresnet")
            if (REPO / "examples" / name / "model.ir.npz").exists()}
#: What each must contain: its op names.
OPS = {"kws_dscnn": {"vvau", "avgpool", "mvtu"}, "kws_tcresnet": {"add", "avgpool", "mvtu"}}


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def example(request, tmp_path_factory):
    name = request.param
    spec = load_spec(EXAMPLES[name])
    _, graph, said = export_shipped(spec, tmp_path_factory.mktemp(name))
    return name, spec, graph, said


def test_the_shipped_ir_is_used_and_holds_the_graph(example):
    name, spec, graph, said = example
    assert said == [f"reusing shipped IR {spec.prebuilt_path / 'model.ir.npz'} "
                    f"(no data, training or export needed)"]
    assert OPS[name] <= {layer.op for layer in graph.layers}
    assert (graph.input_shape, graph.input_bits, graph.classes) == ((10, 49, 1), 4, 12)
    if name == "kws_tcresnet":
        assert not graph.is_chain and any(layer.macro is not None for layer in graph.mvtus())
    accuracy = run_graph(graph).accuracy(graph.test_labels)
    assert abs(accuracy - graph.meta["golden_accuracy"]) < 1e-12 and accuracy > 0.85


def test_it_folds_for_its_cycle_target(example):
    """The DS-CNN for kws.yaml's 784 cycles/frame; the TC-ResNet's cim layer reads 8 columns
    a cycle as kws.yaml's does, which sets 4,536."""
    name, spec, graph, _ = example
    folded = auto_fold(graph, target_cycles=spec.hardware.target_cycles,
                       fixed=tuple(graph.meta.get("fixed_folding", ())))
    assert folded.expected_cycles() <= spec.hardware.target_cycles
    assert folded.expected_cycles() == {"kws_dscnn": 784, "kws_tcresnet": 4536}[name]


@pytest.mark.cocotb
def test_rtl_equals_golden(example, sim_build_root):
    from hwgen.verify import verify_network
    name, spec, graph, _ = example
    folded = auto_fold(graph, target_cycles=spec.hardware.target_cycles,
                       fixed=tuple(graph.meta.get("fixed_folding", ())))
    # FIFOs of 4 (unsized: sizing takes minutes; a depth-2 FIFO passes a transfer every other
    # cycle, which full-rate windows notice).
    result = verify_network(folded, fifo_depth=4, frames=16,
                            build_root=sim_build_root / name, seed=spec.seed)
    assert result.frames == 16 and result.mismatches == 0 and result.stress_passed
    assert result.cycles_ratio <= 1.02
