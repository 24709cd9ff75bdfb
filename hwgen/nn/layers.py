"""Binarized building blocks: sign with a straight-through estimator, binary linear and
convolution layers, and the one batch-norm-and-threshold formula that inference and the export
share (:func:`batchnorm_fires`)."""
import torch
from torch import nn

__all__ = ["binarize", "batchnorm_fires", "BinaryLinear", "BinaryConv2d"]


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


@torch.no_grad()
def batchnorm_fires(norm: nn.modules.batchnorm._BatchNorm, dot: torch.Tensor) -> torch.Tensor:
    """Where eval-mode ``norm(dot) >= 0``: a hidden neuron's output bit. ``dot`` has its
    channels (neurons) in dimension 1, as batch norm takes it.

    Computed elementwise in float64 as ``(dot - mean) * (weight / sqrt(var + eps)) + bias >= 0``.
    The model's inference and the export's threshold fold both call this function, so the fold,
    which evaluates it on every dot product a layer can produce, reproduces the model exactly.
    Each step is monotone in ``dot`` (IEEE rounding is), so the result is a step function.
    """
    dot = dot.to(torch.float64)
    view = (1, -1) + (1,) * (dot.ndim - 2)
    scale = norm.weight.to(torch.float64) / torch.sqrt(norm.running_var.to(torch.float64) + norm.eps)
    mean = norm.running_mean.to(torch.float64)
    bias = norm.bias.to(torch.float64)
    return (dot - mean.view(view)) * scale.view(view) + bias.view(view) >= 0


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
        return nn.functional.linear(x, weight.to(x.dtype))

    def clip_(self):
        """Keep latent weights in [-1, 1] (BinaryConnect), so signs can still flip."""
        if self.binary:
            with torch.no_grad():
                self.weight.clamp_(-1.0, 1.0)


class BinaryConv2d(nn.Conv2d):
    """2-D convolution with +-1 weights (latent float weights, binarized on the fly), no bias.

    The input is padded with ``pad_value``, the zero element of its encoding (-1 for bipolar
    activations, 0 for binary or integer ones), before a convolution without padding: what the
    sliding-window generator feeds the hardware. With ``binary=False`` it is an ordinary float
    convolution (the float reference model).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel, stride, padding : int or (rows, columns)
    pad_value : float
        Value of the padding elements.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel, *, stride=1, padding=0,
                 pad_value: float = 0.0, binary: bool = True):
        super().__init__(in_channels, out_channels, kernel, stride=stride, padding=padding,
                         bias=False)
        self.binary = binary
        self.pad_value = float(pad_value)
        nn.init.uniform_(self.weight, -1.0, 1.0)

    def binary_weight(self) -> torch.Tensor:
        return binarize(self.weight)

    def forward(self, x):
        weight = self.binary_weight() if self.binary else self.weight
        ph, pw = self.padding
        if ph or pw:
            x = nn.functional.pad(x, (pw, pw, ph, ph), value=self.pad_value)
        return nn.functional.conv2d(x, weight.to(x.dtype), stride=self.stride)

    def clip_(self):
        """Keep latent weights in [-1, 1] (BinaryConnect), so signs can still flip."""
        if self.binary:
            with torch.no_grad():
                self.weight.clamp_(-1.0, 1.0)
