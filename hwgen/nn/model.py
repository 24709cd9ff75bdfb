"""The BNN built from a spec: binary conv and linear layers, batch norm + threshold, max-pool.

Hidden conv or linear layer ``k``: ``dot = layer(x)``, ``x = activation(BatchNorm(dot))``, the
activation 1 where the batch-normed dot product is >= 0, else -1 (``bipolar``) or 0
(``binary``), with a straight-through gradient. A max-pool takes the maximum of activations
(the OR of bits: 1 is the larger value in both encodings). A linear layer after an image reads
it flattened in stream order (height, width, channels). The last layer is linear; its dot
product times one learned positive scale (a softmax temperature, which does not change the
argmax) gives the logits, so the hardware emits the integer dot products.

The input is a frame of integer elements in stream order (pixels in raster order, channels
innermost), decoded by the input encoding: bipolar bit b is 2b - 1, binary bit b is b, an
unsigned integer is itself. Padding elements are the encoding's zero: -1 bipolar, else 0.

In eval mode the binary model computes its dot products in float64 (exact integers) and its
activations with :func:`~hwgen.nn.layers.batchnorm_fires`, the formula the export folds into
integer thresholds; in training mode it is an ordinary float32 network with batch norm.
"""
import torch
from torch import nn

from ..spec import ConvSpec, LinearSpec, Spec
from .layers import BinaryConv2d, BinaryLinear, batchnorm_fires, binarize

__all__ = ["BNN", "decode"]


def decode(frames: torch.Tensor, encoding: str) -> torch.Tensor:
    """Element values of raw input elements: bipolar 0/1 -> -1/+1, binary and uint as they are."""
    frames = torch.as_tensor(frames).to(torch.int64)
    return 2 * frames - 1 if encoding == "bipolar" else frames


class BNN(nn.Module):
    """The spec's network. ``layers[i]`` and ``norms[i]`` belong to ``spec.model.layers[i]``
    (``norms[i]`` is an identity for max-pools and the last layer).

    With ``binary=False`` it is the float twin (float weights, hardtanh activations), a
    reference for what binarization costs.
    """

    def __init__(self, spec: Spec, *, binary: bool = True):
        super().__init__()
        self.binary = binary
        self.input_shape = spec.data.shape
        self.input_encoding = spec.input_encoding
        self.activation_encoding = spec.model.activation
        layers, norms = [], []
        last = len(spec.model.layers) - 1
        for index, layer in enumerate(spec.model.layers):
            encoding = self.input_encoding if index == 0 else self.activation_encoding
            if isinstance(layer, ConvSpec):
                layers.append(BinaryConv2d(
                    layer.in_channels, layer.out_channels, layer.kernel, stride=layer.stride,
                    padding=layer.padding, pad_value=-1.0 if encoding == "bipolar" else 0.0,
                    binary=binary))
                norms.append(nn.BatchNorm2d(layer.out_channels) if index < last else nn.Identity())
            elif isinstance(layer, LinearSpec):
                layers.append(BinaryLinear(layer.in_features, layer.out_features, binary=binary))
                norms.append(nn.BatchNorm1d(layer.out_features) if index < last else nn.Identity())
            else:
                layers.append(nn.MaxPool2d(layer.kernel))
                norms.append(nn.Identity())
        self.layers = nn.ModuleList(layers)
        self.norms = nn.ModuleList(norms)
        self.log_scale = nn.Parameter(torch.tensor(-2.0))

    def activation(self, norm: nn.Module, dot: torch.Tensor) -> torch.Tensor:
        """A hidden layer's output from its dot products (channels in dimension 1)."""
        bipolar = self.activation_encoding == "bipolar"
        if not self.binary:
            y = nn.functional.hardtanh(norm(dot))
            return y if bipolar else (y + 1) / 2
        if self.training:
            y = binarize(norm(dot))
            return y if bipolar else (y + 1) / 2
        fires = batchnorm_fires(norm, dot)
        return torch.where(fires, 1.0, -1.0 if bipolar else 0.0).to(dot.dtype)

    def forward(self, frames: torch.Tensor, trace: list | None = None) -> torch.Tensor:
        """Logits for ``frames`` (N, channels * height * width), integer elements, stream order.

        ``trace``, if given, receives each conv and linear layer's dot products as a float
        tensor (N, pixels, out): output pixels in raster order (1 for a linear layer), as
        :class:`hwgen.golden.GoldenResult` ``dots``.
        """
        # Eval-mode binary inference runs in float64: integer dot products stay exact.
        dtype = torch.float64 if self.binary and not self.training else torch.float32
        n = frames.shape[0]
        channels, height, width = self.input_shape
        x = decode(frames, self.input_encoding).to(dtype)
        x = x.reshape(n, height, width, channels).permute(0, 3, 1, 2)      # NCHW
        last = len(self.layers) - 1
        for index, (layer, norm) in enumerate(zip(self.layers, self.norms)):
            if isinstance(layer, BinaryLinear):
                if x.ndim == 4:
                    x = x.permute(0, 2, 3, 1).reshape(n, -1)               # flatten NHWC
                dot = layer(x)
                pixels = dot[:, None, :]
            elif isinstance(layer, BinaryConv2d):
                if x.ndim == 2:
                    x = x.reshape(n, -1, 1, 1)                             # a vector: 1x1 image
                dot = layer(x)
                pixels = dot.permute(0, 2, 3, 1).reshape(n, -1, dot.shape[1])
            else:
                x = layer(x)
                continue
            if trace is not None:
                trace.append(pixels)
            if index == last:
                return dot * self.log_scale.exp()
            x = self.activation(norm, dot)
        raise AssertionError("the last layer is linear")    # the spec guarantees it

    def clip_(self):
        for layer in self.layers:
            if isinstance(layer, (BinaryLinear, BinaryConv2d)):
                layer.clip_()
