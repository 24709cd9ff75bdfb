"""The BNN built from a spec: binary conv and linear layers, a threshold unit, max-pool.

Hidden conv or linear layer ``k``: ``dot = layer(x)``, ``x = activation(unit(dot))``, the
activation 1 where the unit's pre-activation is >= 0, else -1 (``bipolar``) or 0 (``binary``),
with a straight-through gradient. The unit (``model.norm``) is batch norm
(:class:`~hwgen.nn.layers.BatchNormThreshold`) or the batch-norm-free analytic centring
(:class:`~hwgen.nn.layers.CentredThreshold`: centre and spread from the layer's weights and
its inputs' running rates, settled when the model goes to eval mode); both subtract
``model.threshold_shift``. A max-pool takes the maximum of activations (the OR of bits: 1 is
the larger value in both encodings). A linear layer after an image reads it flattened in stream
order (height, width, channels). The last layer is linear; its dot product times one learned
positive scale (a softmax temperature, which does not change the argmax) gives the logits, so
the hardware emits the integer dot products.

The input is a frame of integer elements in stream order (pixels in raster order, channels
innermost), decoded by the input encoding: bipolar bit b is 2b - 1, binary bit b is b, an
unsigned integer is itself. Padding elements are the encoding's zero: -1 bipolar, else 0.

**The matrix-vector hook.** Every conv and linear layer is one matrix-vector product per
output pixel, as an MVTU (or a CIM macro) computes it. ``BNN(spec, mvm=f)`` (or
``model(frames, mvm=f)`` for one call) computes each layer's dot products as
``f(layer_index, x, w)``: ``x`` (N, pixels, mw) the input vectors (a convolution's windows in
(row, column, channel) order, one pixel for a linear layer), ``w`` (mh, mw) the weights in the
IR's order; it returns (N, pixels, mh). ``layer_index`` indexes ``spec.model.layers``.
:func:`exact_mvm` (or ``None``) is the exact product, computed by the layer itself;
:class:`hwgen.nn.GaussianMVM` adds noise; a CIM macro's differentiable twin plugs in the same
way.

**CIM layers.** A ``backend: cim`` layer computes its dot products on the spec's macro, in
its differentiable twin :func:`hwgen.cim.macro_mvm_float`: the "dot product" is the macro's
code sum (ADC codes shift-added over wordline groups and bit slices), which the threshold unit
then normalizes. In training the twin adds its noise model's float noise and passes the ADC's
gradient straight through (or, with ``train.adc_quantizer: concrete``, draws the ADC codes
from their noisy distribution with a Concrete relaxation; with ``expected``, passes the gradient
of the code's expectation under the noise); in eval it is noise-free and exact
(unless ``macro_noise`` is set, to measure accuracy under the noise), so the export's golden model
(which adds the seeded hardware noise) equals the model when its noise is off. The ``mvm``
hook does not apply to cim layers. With ``cim.weight_bits: 2`` their weights take the levels
{-3, -1, 1, 3}.

**BitSplit** (``model.bitsplit``, with ``act_bits: 2``): each hidden layer's unit is a batch
norm over ``2 * out`` channels, channel ``p * out + n`` giving bit ``p`` of neuron ``n`` as a
binary neuron of its own. From the first hidden layer on the activations travel as their two
bit planes, stacked on the batch dimension (plane ``p`` of frame ``i`` is row ``p * N + i``):
each layer computes each plane's dot products with the same weights (a cim layer: the
plane's bit-serial reads, :meth:`hwgen.cim.MacroSpec.replace` with ``act_bits=1``), bit ``p``
of its output from plane ``p``'s (a first hidden layer, which reads the frames, from its one
dot product); max-pools pool each plane; the last layer merges them,
``dot_0 + 2 * dot_1``, the 2-bit input's dot product. A traced split layer's dot products
are (N, pixels, out, 2), plane last.

In eval mode the binary model computes its dot products in float64 (exact integers) and its
activations with the unit's ``fires``, the formula the export folds into integer thresholds;
in training mode it is an ordinary float32 network.
"""
from typing import Callable

import torch
from torch import nn

from ..cim.macro import layer_macro, macro_mvm_float
from ..ops.mvtu.golden import thermometer_code
from ..spec import (AddSpec, AvgPoolSpec, ConcatSpec, ConvSpec, DWConvSpec, LinearSpec,
                    MaxPoolSpec, Spec)
from .layers import (Add, BatchNormThreshold, BinaryConv2d, BinaryDepthwiseConv2d, BinaryLinear,
                     CentredThreshold, Concat, SumPool2d, activation_levels, binarize)

__all__ = ["BNN", "decode", "exact_mvm", "MVM"]

#: Frames of each training batch whose input elements a batch-norm-free unit observes.
OBSERVED_FRAMES = 16

#: ``mvm(layer_index, x, w) -> dot``: x (N, pixels, mw), w (mh, mw), dot (N, pixels, mh).
MVM = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]


def exact_mvm(layer_index: int, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The exact matrix-vector products ``x @ w.T`` (the default; the model then lets each layer
    compute them its own way, a convolution as a convolution)."""
    return x @ w.to(x.dtype).T


def decode(frames: torch.Tensor, encoding: str) -> torch.Tensor:
    """Element values of raw input elements: bipolar 0/1 -> -1/+1, binary and uint as they are."""
    frames = torch.as_tensor(frames).to(torch.int64)
    return 2 * frames - 1 if encoding == "bipolar" else frames


class BNN(nn.Module):
    """The spec's network. ``layers[i]`` and ``norms[i]`` belong to ``spec.model.layers[i]``;
    ``norms[i]`` is the hidden layer's threshold unit (an identity for pools, concatenations,
    an add without threshold and the last layer). Layer ``i`` reads the outputs of the layers
    ``sources[i]`` (-1: the frames; :meth:`hwgen.spec.Spec.layer_inputs`): the layer before it
    in a chain, two for a residual add.

    With ``binary=False`` it is the float twin (float weights, hardtanh activations), a
    reference for what binarization costs. ``mvm`` replaces the exact matrix-vector products
    (see the module's docstring).
    """

    def __init__(self, spec: Spec, *, binary: bool = True, mvm: MVM | None = None):
        super().__init__()
        self.binary = binary
        self.mvm = mvm
        self.input_shape = spec.data.shape
        #: Bits of the frames' elements the first layer reads as thermometer codes (0: none).
        self.code_bits = spec.data.input_bits if spec.data.thermometer else 0
        self.input_encoding = spec.input_encoding
        self.activation_encoding = spec.model.activation
        self.act_bits = spec.model.act_bits
        self.bitsplit = spec.model.bitsplit
        self.adc_quantizer = spec.train.adc_quantizer
        self.concrete_temperature = spec.train.concrete_temperature
        #: Draw the cim layers' float noise in eval mode too (to measure accuracy under it).
        self.macro_noise = False
        bnfree = spec.model.norm == "bnfree"
        shift = spec.model.threshold_shift
        layers, norms = [], []
        #: The macro of each ``backend: cim`` layer, by layer index.
        self.macros = {index: layer_macro(spec, index)
                       for index, layer in enumerate(spec.model.layers)
                       if getattr(layer, "backend", "digital") == "cim"}
        last = len(spec.model.layers) - 1
        #: Per layer, the indices of the layers it reads (-1: the frames).
        self.sources = [spec.layer_inputs(index) for index in range(len(spec.model.layers))]
        for index, layer in enumerate(spec.model.layers):
            encoding = self.input_encoding if index == 0 else self.activation_encoding
            if isinstance(layer, ConvSpec):
                layers.append(BinaryConv2d(
                    layer.in_channels, layer.out_channels, layer.kernel, stride=layer.stride,
                    padding=layer.padding, pad_value=-1.0 if encoding == "bipolar" else 0.0,
                    binary=binary))
                mh = layer.out_channels
            elif isinstance(layer, DWConvSpec):
                layers.append(BinaryDepthwiseConv2d(
                    layer.channels, layer.kernel, stride=layer.stride, padding=layer.padding,
                    pad_value=-1.0 if encoding == "bipolar" else 0.0, binary=binary))
                mh = layer.channels
            elif isinstance(layer, LinearSpec):
                layers.append(BinaryLinear(layer.in_features, layer.out_features, binary=binary))
                mh = layer.out_features
            elif isinstance(layer, MaxPoolSpec):
                layers.append(nn.MaxPool2d(layer.kernel))
                norms.append(nn.Identity())
                continue
            elif isinstance(layer, AvgPoolSpec):
                layers.append(SumPool2d(layer.window))
                norms.append(nn.Identity())
                continue
            elif isinstance(layer, AddSpec):      # the sum, then its own threshold unit
                layers.append(Add())
                norms.append(BatchNormThreshold(layer.channels, shift=shift) if layer.threshold
                             else nn.Identity())
                continue
            elif isinstance(layer, ConcatSpec):
                layers.append(Concat())
                norms.append(nn.Identity())
                continue
            else:
                raise TypeError(f"no torch module for layer type {type(layer).__name__}")
            if index in self.macros:
                layers[-1].weight_bits = self.macros[index].weight_bits
            else:
                layers[-1].weight_bits = spec.model.weight_bits
                layers[-1].scaled = spec.model.weight_bits > 1
            if index == last:
                norms.append(nn.Identity())
            elif bnfree:
                mw = layer.matrix_width
                macro = self.macros.get(index) if binary else None
                # A cim layer's unit receives code sums: dot / D + offset (unclipped ADC;
                # D * g / WL with a partial wordline group).
                norms.append(CentredThreshold(
                    mh, mw, shift=shift, code_scale=1.0 / macro.code_step(mw) if macro else 1.0,
                    code_offset=macro.code_offset(mw) if macro else 0.0))
            else:
                # BitSplit: a binary neuron per output bit, bit p's channels p * mh ...
                norms.append(BatchNormThreshold(mh * (2 if self.bitsplit else 1), shift=shift))
        self.layers = nn.ModuleList(layers)
        self.norms = nn.ModuleList(norms)
        self.log_scale = nn.Parameter(torch.tensor(-2.0))

    def hidden_indices(self) -> list[int]:
        """Indices of the hidden (thresholded) conv and linear layers."""
        return [i for i, norm in enumerate(self.norms)
                if isinstance(norm, (BatchNormThreshold, CentredThreshold))]

    def fires(self, index: int, dot: torch.Tensor) -> torch.Tensor:
        """Eval-mode output bits of hidden layer ``index`` (dot products with the neurons in the
        last dimension): the formula the export folds."""
        return self.norms[index].fires(dot)

    def output_bits(self, index: int, dot: torch.Tensor) -> torch.Tensor:
        """Eval-mode output bits of hidden layer ``index`` from its traced dot products (the
        ``trace`` of :meth:`forward`): :meth:`fires`; BitSplit's both bits, (..., 2 * out)."""
        if self.bitsplit:
            split = dot.ndim == 4                 # (N, pixels, out, 2): each plane's
            dot = torch.cat([dot[..., 0], dot[..., 1]] if split else [dot, dot], dim=-1)
        return self.fires(index, dot)

    def activation(self, index: int, dot: torch.Tensor, firing: list | None = None,
                   reference=None) -> torch.Tensor:
        """Hidden layer ``index``'s output from its dot products (neurons in the last
        dimension). ``firing``, in training, receives the layer's firing rate (the mean of
        its output bits as {0, 1}, with the straight-through gradient), the zero-raising
        penalty's term. ``reference``: a :class:`CentredThreshold`'s centre and spread of the
        layer's current weights (training)."""
        bipolar = self.activation_encoding == "bipolar"
        if self.act_bits > 1 and self.binary and not self.training:
            # Multi-bit activations 0 .. 2**act_bits - 1: the float64 formula the export folds.
            return self.norms[index].levels(dot, self.act_bits).to(dot.dtype)
        if self.act_bits > 1 and self.binary:
            y = activation_levels(self.norms[index](dot.float(), reference),
                                  self.act_bits).to(dot.dtype)
            if firing is not None:
                firing.append((y / ((1 << self.act_bits) - 1)).mean())
            return y
        if self.binary and not self.training:
            fires = self.fires(index, dot)
            return torch.where(fires, 1.0, -1.0 if bipolar else 0.0).to(dot.dtype)
        u = self.norms[index](dot, reference)
        y = binarize(u) if self.binary else nn.functional.hardtanh(u)
        if firing is not None:
            firing.append(((y + 1) / 2).mean())
        return y if bipolar else (y + 1) / 2

    def split_activation(self, index: int, dot: torch.Tensor, split: bool,
                         firing: list | None = None) -> torch.Tensor:
        """BitSplit hidden layer ``index``'s output bit planes {0, 1} (2N, pixels, out), plane
        ``p`` in rows ``p * N ..``, from its dot products: each plane's (2N rows, ``split``),
        or one (N rows) that both bits read."""
        n = dot.shape[0] // 2 if split else dot.shape[0]
        wide = torch.cat([dot[:n], dot[n:]] if split else [dot, dot], dim=-1)   # (N, px, 2 out)
        if self.binary and not self.training:
            bits = self.fires(index, wide).to(dot.dtype)
        else:
            u = self.norms[index](wide)
            bits = (binarize(u) if self.binary else nn.functional.hardtanh(u)) / 2 + 0.5
            if firing is not None:
                firing.append(bits.mean())
        out = dot.shape[-1]
        return torch.cat([bits[..., :out], bits[..., out:]], dim=0)

    def _dots(self, index: int, layer: nn.Module, x: torch.Tensor, mvm: MVM | None,
              split: bool = False):
        """Layer ``index``'s dot products (N, pixels, out); ``split``: ``x`` holds bit planes,
        which a cim layer reads as one plane's reads."""
        n = x.shape[0]
        if index in self.macros and self.binary:
            matrix = layer.matrix()
            macro = self.macros[index].replace(act_bits=1) if split else self.macros[index]
            return macro_mvm_float(macro, matrix.to(x.dtype), layer.windows(x),
                                   noise=self.training or self.macro_noise,
                                   adc=self.adc_quantizer,
                                   temperature=self.concrete_temperature)
        if mvm is None or mvm is exact_mvm:
            dot = layer(x)
            return dot[:, None, :] if dot.ndim == 2 else dot.permute(0, 2, 3, 1).reshape(
                n, -1, dot.shape[1])
        windows, matrix = layer.windows(x), layer.matrix()
        dot = mvm(index, windows, matrix.to(x.dtype))
        expected = (*windows.shape[:2], matrix.shape[0])
        if tuple(dot.shape) != expected:
            raise ValueError(f"mvm for layer {index} returned shape {tuple(dot.shape)}, "
                             f"not {expected}")
        return dot

    def forward(self, frames: torch.Tensor, trace: list | None = None, *,
                mvm: MVM | None = None, firing: list | None = None) -> torch.Tensor:
        """Logits for ``frames`` (N, channels * height * width), integer elements, stream order
        (with ``data.thermometer`` the uncoded elements: the model codes them).

        ``trace``, if given, receives each conv and linear layer's dot products as a float
        tensor (N, pixels, out): output pixels in raster order (1 for a linear layer), as
        :class:`hwgen.golden.GoldenResult` ``dots``. ``mvm`` overrides the model's matrix-vector
        hook for this call. ``firing`` (training) receives each hidden layer's firing rate.
        """
        mvm = self.mvm if mvm is None else mvm
        # Eval-mode binary inference runs in float64: integer dot products stay exact.
        dtype = torch.float64 if self.binary and not self.training else torch.float32
        n = frames.shape[0]
        channels, height, width = self.input_shape
        if self.code_bits:                    # each element v: the bits [v > j], in its place
            frames = thermometer_code(frames, self.code_bits)
        x = decode(frames, self.input_encoding).to(dtype)
        x = x.reshape(n, height, width, channels).permute(0, 3, 1, 2)      # NCHW
        last = len(self.layers) - 1
        split = False             # x holds BitSplit's bit planes: 2N rows, plane p's from p * N
        outputs = {-1: x}         # each layer's output, by index (-1: the frames)
        for index, layer in enumerate(self.layers):
            sources = self.sources[index]
            x = outputs[sources[0]]
            rows = x.shape[0]
            if isinstance(layer, (Add, Concat)):
                outputs[index] = self._join(index, layer, [outputs[k] for k in sources], firing)
                continue
            if isinstance(layer, BinaryLinear):
                if x.ndim == 4:
                    x = x.permute(0, 2, 3, 1).reshape(rows, -1)            # flatten NHWC
            elif isinstance(layer, BinaryConv2d):
                if x.ndim == 2:
                    x = x.reshape(rows, -1, 1, 1)                          # a vector: 1x1 image
                out_height, out_width = _conv_out(layer, x.shape[2:])
            else:
                outputs[index] = layer(x)
                continue
            dot = self._dots(index, layer, x, mvm, split)                  # (rows, pixels, out)
            if split and index == last:                                    # merge the planes
                dot = dot[:n] + 2 * dot[n:]
            if trace is not None:
                trace.append(torch.stack([dot[:n], dot[n:]], dim=-1) if split and index < last
                             else dot)
            if index == last:
                return dot[:, 0, :] * self.log_scale.exp()
            reference = None
            if self.training and isinstance(self.norms[index], CentredThreshold):
                # A few frames' windows per batch are plenty for running statistics.
                self.norms[index].observe(layer.windows(x[:OBSERVED_FRAMES].detach()))
                reference = self.norms[index].reference(layer.matrix().to(dot.dtype))
            if self.bitsplit:
                y = self.split_activation(index, dot, split, firing)
                split = True
            else:
                y = self.activation(index, dot, firing, reference)
            if isinstance(layer, BinaryLinear):
                outputs[index] = y[:, 0, :]
            else:
                outputs[index] = y.reshape(y.shape[0], out_height, out_width,
                                           -1).permute(0, 3, 1, 2)
        raise AssertionError("the last layer is linear")    # the spec guarantees it

    def _join(self, index: int, layer: nn.Module, xs: list, firing: list | None):
        """An add's or a concatenation's output; an add with a threshold unit activates its
        integer sum as a hidden layer's dot products."""
        y = layer(xs)
        if isinstance(self.norms[index], nn.Identity):
            return y
        if y.ndim == 2:                                   # vectors: one pixel
            return self.activation(index, y[:, None, :], firing)[:, 0, :]
        rows, channels, height, width = y.shape
        sums = y.permute(0, 2, 3, 1).reshape(rows, -1, channels)
        out = self.activation(index, sums, firing)
        return out.reshape(rows, height, width, channels).permute(0, 3, 1, 2)

    def train(self, mode: bool = True):
        """Training or eval mode; going to eval settles each :class:`CentredThreshold` at the
        current weights (what :meth:`fires` and the export's fold use)."""
        super().train(mode)
        if not mode:
            self.settle()
        return self

    @torch.no_grad()
    def settle(self):
        """Fix each batch-norm-free unit's centre and spread from its layer's weights."""
        for layer, norm in zip(self.layers, self.norms):
            if isinstance(norm, CentredThreshold):
                norm.settle(layer.matrix())

    def clip_(self):
        for layer in self.layers:
            if isinstance(layer, (BinaryLinear, BinaryConv2d)):
                layer.clip_()


def _conv_out(layer: BinaryConv2d, size) -> tuple[int, int]:
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    return (size[0] + 2 * ph - kh) // sh + 1, (size[1] + 2 * pw - kw) // sw + 1
