"""The BNN built from a spec: binary linear layers, batch norm + sign between them.

Hidden layer ``k``: ``dot = BinaryLinear(x)``, ``x = sign(BatchNorm(dot))``. The last layer's
dot product is multiplied by one learned positive scale (a softmax temperature; it does not
change the argmax, so the hardware emits the integer dot products as logits).

Inputs are frames of bits {0,1}, read as -1/+1.
"""
import torch
from torch import nn

from ..spec import Spec
from .layers import BinaryLinear, binarize

__all__ = ["BNN"]


class BNN(nn.Module):
    def __init__(self, spec: Spec, *, binary: bool = True):
        super().__init__()
        self.binary = binary
        sizes = [(layer.in_features, layer.out_features) for layer in spec.model.layers]
        self.linears = nn.ModuleList(BinaryLinear(i, o, binary=binary) for i, o in sizes)
        self.norms = nn.ModuleList(nn.BatchNorm1d(o) for _, o in sizes[:-1])
        self.log_scale = nn.Parameter(torch.tensor(-2.0))

    def activation(self, y: torch.Tensor) -> torch.Tensor:
        return binarize(y) if self.binary else torch.nn.functional.hardtanh(y)

    def forward(self, bits: torch.Tensor, trace: list | None = None) -> torch.Tensor:
        """Logits for frames ``bits`` (N, features) in {0, 1}.

        ``trace``, if given, receives each layer's pre-activation (the dot product).
        """
        x = bits.to(torch.float32) * 2 - 1
        for index, linear in enumerate(self.linears):
            dot = linear(x)
            if trace is not None:
                trace.append(dot)
            if index < len(self.norms):
                x = self.activation(self.norms[index](dot))
            else:
                x = dot * self.log_scale.exp()
        return x

    def clip_(self):
        for linear in self.linears:
            linear.clip_()
