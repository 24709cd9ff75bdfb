"""The train step: the float reference and the BNN, trained as the spec says (``checkpoint.pt``).

Its key is the training settings alone (data, model less its folding, training, seed, the cim
macro trained through), not hwgen's sources: shipped results (``train.prebuilt``) stay usable
across hwgen's versions; what the IR holds is versioned by ``IR_VERSION`` (see :mod:`.export`).
A spec that pins ``train.checkpoint`` names the spec's input, not a product: it is read, never
made or written.
"""
import dataclasses

from ..errors import HwgenError, SpecError
from .cache import Product, Unusable, key_digest
from .checkpoint import read_checkpoint, save_checkpoint

__all__ = ["train_key", "train", "load_model"]

#: The batch-norm-free unit ``model.norm: bnfree`` trains (:class:`hwgen.nn.CentredThreshold`;
#: before it, a threshold fixed at the first batch): part of a bnfree checkpoint's key.
BNFREE_UNIT = "centred"


def train_key(spec) -> str:
    """The key of what training makes from ``spec``."""
    if spec.checkpoint_path is not None:
        return key_digest({"checkpoint": str(spec.checkpoint_path)})
    model = dataclasses.asdict(spec.model)
    model.pop("share")
    for key in ("qonnx", "cim_layers"):  # keys made before the options stay
        if not model[key]:
            del model[key]
    if not model["bitsplit"]:
        del model["bitsplit"]            # keys made before the option stay
    if model["weight_bits"] == 1:
        del model["weight_bits"]         # keys made before the option stay
    for layer in model["layers"]:        # folding and exact sharing do not change the training
        for key in ("pe", "simd", "ram_style", "share", "in_bits"):
            layer.pop(key, None)
        for key in ("name", "inputs"):   # keys made before graphs (None: a chain's) stay
            if layer.get(key) is None:
                layer.pop(key, None)
    train = dataclasses.asdict(spec.train)
    train.pop("prebuilt")                # where a result may be found, not what it is
    if train["concrete_temperature_final"] is None:
        del train["concrete_temperature_final"]    # keys made before the option stay
    key = {"data": dataclasses.asdict(spec.data), "seed": spec.seed,
           "train": train, "model": model}
    if spec.cim is not None:             # the macro is trained through
        key["cim"] = spec.cim.chip_fields()
    if spec.model.norm == "bnfree":      # its formulation: an earlier one's checkpoint differs
        key["bnfree"] = BNFREE_UNIT
    tied = {str(index): dataclasses.asdict(share) for index, share in spec.shared_convs().items()
            if share.similar > 0}
    if tied:                             # similar filters are tied and fine-tuned
        key["share"] = tied
    return key_digest(key)


def _keyed_checkpoint(path):
    saved = read_checkpoint(path)
    return saved["key"], saved


def _pinned(workspace, *, force: bool) -> dict:
    """The spec's pinned ``train.checkpoint``, read (SpecError naming the key when it is
    missing or damaged, or when ``force`` asks to train over it)."""
    spec = workspace.spec
    pinned = spec.checkpoint_path
    if force:
        raise SpecError(spec.path, "train.checkpoint",
                        f"pins {pinned}, used instead of training; hwgen never writes "
                        f"it, so train --force has nothing to do: remove "
                        f"train.checkpoint to train into the output folder")
    if not pinned.exists():
        raise SpecError(spec.path, "train.checkpoint", f"no such file {pinned}")
    try:
        saved = read_checkpoint(pinned, digest_required=False)
    except HwgenError as error:
        raise SpecError(spec.path, "train.checkpoint",
                        str(Unusable.damaged(error, pinned))) from None
    workspace.say(f"reusing checkpoint {pinned}")
    workspace.reused.append(f"checkpoint {pinned}")
    return saved


def train(workspace, *, force: bool = False) -> dict:
    """Train (float reference and BNN) unless a checkpoint made for the spec's settings exists
    (in the output folder, or shipped in ``train.prebuilt``); returns its metrics.

    A spec that pins ``train.checkpoint`` uses that file and never trains: ``force`` is
    refused (SpecError) rather than retraining into, or overwriting, the user's file.
    """
    spec = workspace.spec
    if spec.model.qonnx is not None:
        from ..errors import SpecError
        raise SpecError(spec.path, "model.qonnx", "the model was trained elsewhere: hwgen has "
                        "nothing to train (hwgen export imports it)")
    if spec.checkpoint_path is not None:
        saved = _pinned(workspace, force=force)
        workspace.checkpoint_in_use = spec.checkpoint_path
        return saved["metrics"]
    key = workspace.train_key

    def make(stage):
        from ..data import load_dataset
        from ..nn import train_model
        data = load_dataset(spec.data, spec.seed)
        workspace.say(f"training on {spec.data.dataset}: {len(data.train_x)} train, "
                      f"{len(data.test_x)} test frames, seed {spec.seed}")
        reference = train_model(spec, data, binary=False, progress=workspace.progress)
        result = train_model(spec, data, progress=workspace.progress)
        metrics = {"float_accuracy": reference.test_accuracy,
                   "bnn_accuracy": result.test_accuracy,
                   "bnn_train_accuracy": result.train_accuracy}
        if result.sharing is not None:       # flat numbers, as a checkpoint's metrics are
            metrics.update({f"share_{key}": value for key, value in result.sharing.items()
                            if key != "layers"})
            metrics.update({f"share_{name}_{key}": value
                            for name, layer in result.sharing["layers"].items()
                            for key, value in layer.items()})
            for name, layer in result.sharing["layers"].items():
                workspace.say(f"{name}: similar filters within {layer['similar']} bits tied: "
                              f"{layer['distinct_exact']} -> {layer['distinct_tied']} distinct of "
                              f"{layer['filters']} 2-D filters, {layer['weights_changed']} "
                              f"weights changed (optimality gap {layer['optimality_gap']:.2%})")
            workspace.say(f"test accuracy of the binarized model: "
                          f"{result.sharing['accuracy_before']:.4f} before the ties, "
                          f"{result.sharing['accuracy_tied']:.4f} tied, "
                          f"{result.sharing['accuracy_finetuned']:.4f} fine-tuned (untied, "
                          f"fine-tuned alike: {result.sharing['accuracy_reference']:.4f})")
        workspace.say(f"test accuracy: float {metrics['float_accuracy']:.4f}, "
                      f"binarized {metrics['bnn_accuracy']:.4f}")
        return save_checkpoint(stage(), key, metrics, result.model.state_dict())

    shipped = spec.prebuilt_path / "checkpoint.pt" if spec.prebuilt_path is not None else None
    product = Product("checkpoint", workspace.root / "checkpoint.pt", _keyed_checkpoint,
                      shipped=shipped)
    outcome = workspace.keep("train", product, key, make, force=force)
    workspace.checkpoint_in_use = outcome.path
    return outcome.value["metrics"]


def load_model(workspace):
    """The trained BNN (in eval mode) and its metrics, from the checkpoint :func:`train`
    settled on (default: :attr:`Workspace.checkpoint_file`)."""
    from ..nn import BNN
    spec = workspace.spec
    path = workspace.checkpoint_in_use or workspace.checkpoint_file
    saved = read_checkpoint(path, digest_required=path != spec.checkpoint_path)
    model = BNN(spec)
    try:
        model.load_state_dict(saved["state_dict"])
    except RuntimeError as error:
        raise HwgenError(f"{path}: does not fit the spec's model "
                         f"({str(error).splitlines()[0]})") from None
    model.eval()
    return model, saved["metrics"]
