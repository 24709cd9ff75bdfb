"""The export step: the trained model folded into the integer IR (``model.ir.npz``), checked
equal to the model on the whole test set.

Its key is the training key, ``IR_VERSION`` and the layers' folding, not hwgen's sources (as
the checkpoint's: shipped IRs stay usable; an IR of another format says so and is made again).
"""
import dataclasses

from .cache import Product, key_digest
from .irfile import read_ir

__all__ = ["ir_key", "export"]


def ir_key(spec, train_key: str) -> str:
    """The key of the IR exported from ``spec``'s checkpoint (whose key is ``train_key``)."""
    from ..ir import IR_VERSION
    # A chain's IR is the same graph in versions 5 and 6 (a version 5 file reads as it): its
    # key, and a shipped IR made under it, stay.
    key = {"train": train_key, "ir_version": 5 if spec.is_chain else IR_VERSION,
           "folding": [(getattr(layer, "pe", None), getattr(layer, "simd", None),
                        getattr(layer, "ram_style", None)) for layer in spec.model.layers]}
    shared = spec.shared_convs()
    if shared:                       # those convs export as shared MVTUs
        key["shared"] = sorted(shared)
    return key_digest(key)


def export(workspace, *, force: bool = False, train=None):
    """The IR, exported from the checkpoint unless one made for the spec's settings exists (in
    the output folder, or shipped in ``train.prebuilt``). Only then is the checkpoint needed:
    ``train()`` gives it (default: the workspace's train step, which trains when it must)."""
    spec = workspace.spec
    key = workspace.ir_key

    def make(stage):
        (train or workspace.train)()
        model, metrics = workspace.load_model()
        from ..data import load_dataset
        from ..golden import run_graph
        from ..ir import save_ir
        from ..passes.lower import check_export, export_graph
        data = load_dataset(spec.data, spec.seed)
        names = {"class_names": list(data.class_names)} if data.class_names else {}
        if data.quantization:               # how a user's own features become input elements
            names["quantization"] = {key: value for key, value in data.quantization.items()
                                     if key != "root"}
        graph = export_graph(model, spec, data.test_x, data.test_y,
                             meta={"key": key, **metrics, **names})
        check_export(model, graph)
        accuracy = run_graph(graph).accuracy(graph.test_labels)   # with a macro's seeded noise
        graph = dataclasses.replace(graph, meta={**graph.meta, "golden_accuracy": accuracy})
        workspace.say(f"exported IR: {len(graph.layers)} layers, golden = model on "
                      f"{len(graph.test_frames)} test frames; golden accuracy {accuracy:.4f}")
        save_ir(graph, stage())
        return graph

    shipped = spec.prebuilt_path / "model.ir.npz" if spec.prebuilt_path is not None else None
    product = Product("IR", workspace.ir_file, read_ir("key"), shipped=shipped,
                      read_shipped=read_ir("key", digest_required=False),
                      shipped_detail=" (no data, training or export needed)")
    return workspace.keep("export", product, key, make, force=force).value
