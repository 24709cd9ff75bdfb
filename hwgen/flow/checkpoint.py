"""The train step's product: a checkpoint of tensors and plain data, with its digest.

Checkpoints are read with ``torch.load(weights_only=True)``: tensors and plain data only, so
that a crafted pickle cannot run code; each carries a sha256 over its key, metrics and tensors
(:func:`checkpoint_digest`), so that one cut short, damaged or edited is refused.
"""
import hashlib
import io
import json
import pickle
from pathlib import Path

from ..errors import HwgenError

__all__ = ["checkpoint_digest", "save_checkpoint", "read_checkpoint"]


def checkpoint_digest(key: str, metrics: dict, state_dict) -> str:
    """sha256 over a checkpoint's key, metrics and tensors (names, dtypes, shapes, bytes)."""
    import torch
    digest = hashlib.sha256(json.dumps({"key": key, "metrics": metrics},
                                       sort_keys=True).encode())
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"\0{name}\0{tensor.dtype}\0{list(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(path: Path, key: str, metrics: dict, state_dict) -> dict:
    """Write a checkpoint to ``path`` (the flow gives a staging path: see
    :func:`~hwgen.flow.cache.reuse_or_make`): tensors and plain data only, with
    :func:`checkpoint_digest`. Returns what :func:`read_checkpoint` reads back."""
    import torch
    buffer = io.BytesIO()
    metrics = {name: float(value) for name, value in metrics.items()}   # not numpy scalars
    saved = {"key": key, "metrics": metrics, "state_dict": state_dict,
             "digest": checkpoint_digest(key, metrics, state_dict)}
    torch.save(saved, buffer)
    Path(path).write_bytes(buffer.getvalue())
    return saved


def _load_failure(error: Exception) -> str:
    """One line saying why ``torch.load`` refused a file."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if isinstance(error, pickle.UnpicklingError) and lines \
            and lines[0].startswith("Weights only load failed"):
        details = [line for line in lines[1:] if not line.startswith(("Please file", "Check the"))]
        detail = details[0].removeprefix("WeightsUnpickler error: ").rstrip(".") if details \
            else "objects of other types"
        return f"it holds what a weights-only load refuses ({detail})"
    first = lines[0].split(". ")[0] if lines else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def read_checkpoint(path: Path, *, digest_required: bool = True) -> dict:
    """The checkpoint ``path`` (``key``, ``metrics``, ``state_dict``), loaded with
    ``weights_only=True``: a file holding anything but tensors and plain data is refused
    before any of it runs. HwgenError (one line naming the file) when it is damaged, cut
    short, not a checkpoint, or its content does not match its digest (a file without one
    passes only where not ``digest_required``: a pinned ``train.checkpoint``)."""
    import torch
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:     # whatever a damaged or crafted file raises: one line
        raise HwgenError(f"{path}: not a usable checkpoint: {_load_failure(error)}") from None
    if not isinstance(saved, dict) or not {"key", "metrics", "state_dict"} <= set(saved) \
            or not set(saved) <= {"key", "metrics", "state_dict", "digest"}:
        raise HwgenError(f"{path}: not an hwgen checkpoint (a mapping of key, metrics, "
                         f"state_dict and digest)")
    key, metrics, state = saved["key"], saved["metrics"], saved["state_dict"]
    if not isinstance(key, str) or not isinstance(metrics, dict) \
            or not all(isinstance(value, (int, float)) for value in metrics.values()) \
            or not isinstance(state, dict) \
            or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise HwgenError(f"{path}: not an hwgen checkpoint (its key, metrics or tensors are of "
                         f"other types)")
    if "digest" in saved:
        if saved["digest"] != checkpoint_digest(key, metrics, state):
            raise HwgenError(f"{path}: its content does not match its digest (damaged or edited)")
    elif digest_required:
        raise HwgenError(f"{path}: no digest (not written by this hwgen)")
    return saved
