"""Binarized building blocks: sign with a straight-through estimator, a binary linear layer."""
import torch
from torch import nn

__all__ = ["binarize", "BinaryLinear"]


class _SignSTE(torch.autograd.Function):
    """sign(x) with sign(0) = +1 forward; gradient passed where |x| <= 1 (hardtanh STE)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def binarize(x: torch.Tensor) -> torch.Tensor:
    """+1 where ``x >= 0`` else -1, with a straight-through gradient."""
    return _SignSTE.apply(x)


class BinaryLinear(nn.Linear):
    """Linear layer with +-1 weights (latent float weights, binarized on the fly), no bias.

    With ``binary=False`` it is an ordinary float linear layer (the float reference model).
    """

    def __init__(self, in_features: int, out_features: int, *, binary: bool = True):
        super().__init__(in_features, out_features, bias=False)
        self.binary = binary
        nn.init.uniform_(self.weight, -1.0, 1.0)

    def binary_weight(self) -> torch.Tensor:
        return binarize(self.weight)

    def forward(self, x):
        weight = self.binary_weight() if self.binary else self.weight
        return nn.functional.linear(x, weight)

    def clip_(self):
        """Keep latent weights in [-1, 1] (BinaryConnect), so signs can still flip."""
        if self.binary:
            with torch.no_grad():
                self.weight.clamp_(-1.0, 1.0)
