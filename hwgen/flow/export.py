"""The export step: the trained model folded into the integer IR (``model.ir.npz``), checked
equal to the model on the whole test set.

Its key is the training key, ``IR_VERSION`` and the layers' folding, not hwgen's sources (as
the checkpoint's: shipped IRs stay usable; an IR of another format says so and is made again).
"""
import dataclasses

from .cache import Product, key_digest
from .irfile import read_ir

__all__ = ["ir_key", "export", "import_model", "qonnx_file"]


def qonnx_file(spec):
    """``spec``'s ``model.qonnx`` file, which must exist (SpecError naming the key)."""
    from ..errors import SpecError
    path = spec.qonnx_path
    if not path.is_file():
        raise SpecError(spec.path, "model.qonnx", f"no such file: {path}")
    return path


def ir_key(spec, train_key: str) -> str:
    """The key of the IR exported from ``spec``'s checkpoint (whose key is ``train_key``), or
    imported from its ``model.qonnx`` file (the file's content, the data and the seed that
    splits it)."""
    from ..ir import IR_VERSION
    if spec.model.qonnx is not None:
        from .cache import file_digest
        key = {"qonnx": file_digest(qonnx_file(spec)), "ir_version": IR_VERSION,
               "data": dataclasses.asdict(spec.data), "seed": spec.seed}
        if spec.model.cim_layers:
            key["cim"] = {"layers": list(spec.model.cim_layers),
                          "macro": spec.cim.chip_fields()}
        return key_digest(key)
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
        from ..ir import save_ir
        if spec.model.qonnx is not None:
            graph = import_model(workspace, key)
            save_ir(graph, stage())
            return graph
        (train or workspace.train)()
        model, metrics = workspace.load_model()
        from ..data import load_dataset
        from ..golden import run_graph
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


def import_model(workspace, key: str):
    """The IR of the spec's ``model.qonnx`` file with the spec's test set, checked equal to
    the model as qonnx's executor runs it on every test frame (class and logits)."""
    from ..data import load_dataset
    from ..errors import HwgenError, SpecError
    from ..golden import run_graph
    from ..qonnx.importer import QonnxImportError, check_import, import_qonnx, load_qonnx
    spec = workspace.spec
    path = qonnx_file(spec)
    data = load_dataset(spec.data, spec.seed)
    workspace.say(f"importing {path.name} (QONNX)")
    try:
        model = load_qonnx(path)        # read once: the import and its check both use it
        graph = import_qonnx(model, name=spec.name, test_frames=data.test_x,
                             test_labels=data.test_y)
    except QonnxImportError as error:
        raise HwgenError(f"{path}: {error}") from None
    except ValueError as error:         # the model's input against the spec's data
        raise SpecError(spec.path, "model.qonnx", f"{path.name} does not take the data "
                        f"section's frames ({error})") from None
    bits = spec.data.element_bits
    if graph.input_bits != bits:
        raise SpecError(spec.path, "model.qonnx", f"{path.name} does not take the data "
                        f"section's frames: its input quantizer reads {graph.input_bits}-bit "
                        f"{graph.input_encoding} elements, the data gives {bits}-bit ones "
                        f"(data.input_bits)")
    names = {"class_names": list(data.class_names)} if data.class_names else {}
    graph = dataclasses.replace(graph, meta={**graph.meta, "key": key, **names})
    mismatches = check_import(model, graph, progress=workspace.say)
    if mismatches:
        raise HwgenError(f"{path}: the imported IR differs from the model on {mismatches} of "
                         f"{len(graph.test_frames)} test frames")
    digital = run_graph(graph).accuracy(graph.test_labels)
    workspace.say(f"imported IR: {len(graph.layers)} layers "
                  f"({', '.join(layer.name for layer in graph.layers)}), golden = model "
                  f"(qonnx's executor) on {len(graph.test_frames)} test frames; accuracy "
                  f"{digital:.4f}")
    accuracy = digital
    if spec.model.cim_layers:
        from ..passes.cim_map import CimMapError, map_onto_macro
        try:
            graph = map_onto_macro(graph, spec.model.cim_layers, spec.cim)
        except CimMapError as error:
            raise SpecError(spec.path, "model.cim_layers", str(error)) from None
        accuracy = run_graph(graph).accuracy(graph.test_labels)   # with the macro's noise
        workspace.say(f"on the cim macro: {', '.join(spec.model.cim_layers)}; golden accuracy "
                      f"{accuracy:.4f} (digital {digital:.4f})")
    graph = dataclasses.replace(graph, meta={**graph.meta, "golden_accuracy": accuracy,
                                             "bnn_accuracy": digital})
    return graph
