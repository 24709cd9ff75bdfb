"""Binarized building blocks: sign with a straight-through estimator, binary linear and
convolution layers, and the threshold units between a hidden layer's dot product and its sign.

A threshold unit takes dot products with the neurons (channels) in the last dimension: its
``forward`` gives the training-time pre-activation (whose sign is the output bit), its
``fires`` the eval-mode output bit, computed by one float64 formula that the model's inference
and the export's threshold fold share, so the fold reproduces the model exactly.

* :class:`BatchNormThreshold`: batch norm, then ``- shift`` (:func:`batchnorm_fires`).
* :class:`CentredThreshold` (``model.norm: bnfree``): ``gain * (dot - centre) / spread - bias
  - shift``, the centre and spread computed from the layer's weights and its inputs' running
  rates (analytic centring), a learned ``bias`` and a learned positive gain that only sets the
  straight-through window; no statistic of the dot product is used.
"""
import torch
from torch import nn

__all__ = ["binarize", "quantize2", "quantize_levels", "activation2", "ACTIVATION2_STEPS",
           "levels2", "activation_steps", "levels_of", "activation_levels",
           "batchnorm_fires", "batchnorm_preactivation", "BinaryLinear",
           "BinaryConv2d", "BinaryDepthwiseConv2d", "SumPool2d", "Add", "Concat",
           "BatchNormThreshold", "CentredThreshold"]


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


def quantize2(x: torch.Tensor) -> torch.Tensor:
    """The 2-bit weight levels {-3, -1, 1, 3} of ``x``: ``2 * clamp(floor(x) + 2, 0, 3) - 3``
    (steps at -1, 0, 1), with a straight-through gradient where ``|x| <= 2``."""
    return quantize_levels(x, 2)


def quantize_levels(x: torch.Tensor, bits: int) -> torch.Tensor:
    """The ``bits``-bit weight levels ``-L, -L + 2, ..., L`` (``L = 2**bits - 1``, odd: no
    zero) of ``x``: ``2 * clamp(floor(x) + 2**(bits - 1), 0, L) - L`` (steps at the integers
    ``-(2**(bits-1) - 1) .. 2**(bits-1) - 1``), with a straight-through gradient where
    ``|x| <= 2**(bits - 1)``."""
    half, top = 1 << (bits - 1), (1 << bits) - 1
    level = 2 * torch.clamp(torch.floor(x.detach()) + half, 0, top) - top
    window = (x.abs() <= half).to(x.dtype)
    return level + (x - x.detach()) * window


@torch.no_grad()
def batchnorm_fires(norm: nn.modules.batchnorm._BatchNorm, dot: torch.Tensor,
                    shift: float = 0.0) -> torch.Tensor:
    """Where eval-mode ``norm(dot) - shift >= 0``: a hidden neuron's output bit. ``dot`` has its
    channels (neurons) in the last dimension.

    Computed elementwise in float64 as
    ``(dot - mean) * (weight / sqrt(var + eps)) + bias - shift >= 0``.
    The model's inference and the export's threshold fold both call this function, so the fold,
    which evaluates it on every dot product a layer can produce, reproduces the model exactly.
    Each step is monotone in ``dot`` (IEEE rounding is), so the result is a step function.
    """
    return batchnorm_preactivation(norm, dot, shift) >= 0


@torch.no_grad()
def batchnorm_preactivation(norm: nn.modules.batchnorm._BatchNorm, dot: torch.Tensor,
                            shift: float = 0.0) -> torch.Tensor:
    """Eval-mode ``norm(dot) - shift`` in float64, elementwise
    ``(dot - mean) * (weight / sqrt(var + eps)) + (bias - shift)``: the one formula behind
    :func:`batchnorm_fires` and :meth:`BatchNormThreshold.levels`."""
    dot = dot.to(torch.float64)
    scale = norm.weight.to(torch.float64) / torch.sqrt(norm.running_var.to(torch.float64) + norm.eps)
    mean = norm.running_mean.to(torch.float64)
    bias = norm.bias.to(torch.float64) - shift
    return (dot - mean) * scale + bias


class BatchNormThreshold(nn.BatchNorm1d):
    """Batch norm over the neurons (the last dimension, every other one is batch), then
    ``- shift``: the neuron fires where the normalized dot product is >= ``shift`` (in
    standard deviations at initialisation, weight 1 and bias 0; the learned bias moves it).

    Its state is a batch norm's, so a checkpoint of a ``BatchNorm1d`` or ``BatchNorm2d`` loads.
    """

    def __init__(self, channels: int, *, shift: float = 0.0):
        super().__init__(channels)
        self.shift = float(shift)

    def forward(self, dot: torch.Tensor, reference=None) -> torch.Tensor:
        """The training pre-activation of ``dot`` (``reference``, for
        :class:`CentredThreshold`'s interface, is not used)."""
        flat = super().forward(dot.reshape(-1, dot.shape[-1]))
        return flat.reshape(dot.shape) - self.shift

    def fires(self, dot: torch.Tensor) -> torch.Tensor:
        return batchnorm_fires(self, dot, self.shift)

    @torch.no_grad()
    def levels(self, dot: torch.Tensor, bits: int = 2) -> torch.Tensor:
        """Eval-mode ``bits``-bit activations of ``dot``: :func:`levels_of` the float64
        training pre-activation (:func:`batchnorm_preactivation`, which
        :func:`batchnorm_fires` compares with 0)."""
        return levels_of(batchnorm_preactivation(self, dot, self.shift), bits)


class CentredThreshold(nn.Module):
    """The batch-norm-free threshold unit (``model.norm: bnfree``): the dot product centred and
    scaled *analytically*, from the layer's own weights and the running mean and variance of
    each of its input elements, then a learned per-neuron threshold. No statistic of the dot
    product itself is kept, and nothing of the batch at hand enters the output.

    For weights ``w`` (the layer's decoded matrix row, +-1 or 2-bit levels) and inputs ``x``
    whose elements have mean ``e_k`` and variance ``v_k`` (running estimates over the training
    batches, momentum :attr:`MOMENTUM`), the dot product ``w . x`` has mean ``sum_k w_k e_k``
    (exactly, by linearity) and, for independent inputs, variance ``sum_k w_k**2 v_k``: the
    parametric normalisation of normalization propagation (Arpit et al., ICML 2016) with the
    binary inputs' own rates, the centring that scaled weight standardization (Qiao et al. 2019;
    Brock et al., ICLR 2021) gets for zero-mean inputs, here for {0, 1} ones whose rates the
    previous layer (and zero-raising) sets. The centre moves with the weights as they flip,
    which is what keeps a neuron from drifting out of its data (a fixed threshold's failure),
    and the gradient flows through it, as through batch norm's mean. A cim layer's "dot
    product" is the macro's code sum, ``dot / D + offset`` for an unclipped ADC of step ``D``
    (``code_scale`` and ``code_offset``).

    The pre-activation is ``gain * (dot - centre) / spread - bias - shift``, batch norm's
    form with analytic statistics: the positive per-neuron ``gain`` starts at the inverse of
    the first training batch's spread of the centred value (correlated inputs spread wider than
    independent ones), ``bias`` at its mean times the gain (absorbing the ADC's rounding and
    anything the analytic mean misses), so that the neuron starts firing where its dot
    product is ``shift`` standard deviations above its mean, as with batch norm; both are then
    learned. The neuron fires where the pre-activation is >= 0 (:meth:`fires`, float64): one
    threshold on the dot product, folded exactly.

    Parameters
    ----------
    channels : int
        Neurons.
    inputs : int
        Elements of the layer's input vectors (its matrix width).
    shift : float
        Threshold shift, in standard deviations of the dot product at initialisation.
    code_scale, code_offset : float
        The affine map from a dot product to what the unit receives (1 and 0, or a cim
        layer's ``1 / D`` and code offset).
    """

    #: Weight of the newest batch in the running input statistics.
    MOMENTUM = 0.05

    def __init__(self, channels: int, inputs: int, *, shift: float = 0.0,
                 code_scale: float = 1.0, code_offset: float = 0.0):
        super().__init__()
        self.num_features = channels
        self.shift = float(shift)
        self.code_scale = float(code_scale)
        self.code_offset = float(code_offset)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_gain = nn.Parameter(torch.zeros(channels))
        self.register_buffer("input_mean", torch.full((inputs,), 0.5, dtype=torch.float64))
        self.register_buffer("input_var", torch.full((inputs,), 0.25, dtype=torch.float64))
        self.register_buffer("centre", torch.zeros(channels, dtype=torch.float64))
        self.register_buffer("spread", torch.ones(channels, dtype=torch.float64))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def observe(self, inputs: torch.Tensor) -> None:
        """Update the running mean and variance of the input elements from ``inputs`` (...,
        elements): the first batch sets them."""
        flat = inputs.detach().reshape(-1, inputs.shape[-1])
        mean = flat.mean(dim=0).to(self.input_mean.dtype)
        var = ((flat * flat).mean(dim=0).to(self.input_var.dtype) - mean * mean).clamp(min=0)
        if not self.initialized:
            self.input_mean.copy_(mean)
            self.input_var.copy_(var)
            return
        self.input_mean.lerp_(mean, self.MOMENTUM)
        self.input_var.lerp_(var, self.MOMENTUM)

    def reference(self, matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The centre and spread (mh,) of the dot products of ``matrix`` (mh, mw) with the
        inputs, in the unit's input's units; differentiable in ``matrix``."""
        mean = self.input_mean.to(matrix.dtype)
        var = self.input_var.to(matrix.dtype)
        centre = matrix @ mean
        # A constant input spreads nothing; keep the spread at least one dot-product step.
        spread = torch.sqrt((matrix * matrix) @ var).clamp(min=1.0)
        return centre * self.code_scale + self.code_offset, spread * self.code_scale

    @torch.no_grad()
    def settle(self, matrix: torch.Tensor) -> None:
        """Fix the centre and spread that :meth:`fires` uses from the final ``matrix``."""
        centre, spread = self.reference(matrix.to(torch.float64))
        self.centre.copy_(centre)
        self.spread.copy_(spread)

    def forward(self, dot: torch.Tensor, reference=None) -> torch.Tensor:
        """The training pre-activation of ``dot`` (neurons last); ``reference`` is
        :meth:`reference` of the layer's current matrix (``None``: the settled one)."""
        centre, spread = reference if reference is not None else (self.centre, self.spread)
        centred = (dot - centre.to(dot.dtype)) / spread.to(dot.dtype)
        if self.training and not self.initialized:
            with torch.no_grad():
                flat = centred.detach().reshape(-1, centred.shape[-1]).to(torch.float64)
                std = flat.std(dim=0, unbiased=False).clamp(min=1e-3)
                self.log_gain.copy_(-torch.log(std))
                self.bias.copy_(flat.mean(dim=0) / std)
                self.initialized.fill_(True)
        return self.log_gain.exp() * centred - self.bias - self.shift

    @torch.no_grad()
    def preactivation(self, dot: torch.Tensor) -> torch.Tensor:
        """Eval-mode ``gain * (dot - centre) / spread - bias - shift`` in float64 with the
        settled centre and spread: monotone rising in ``dot``."""
        centred = (dot.to(torch.float64) - self.centre) / self.spread
        return (self.log_gain.to(torch.float64).exp() * centred
                - (self.bias.to(torch.float64) + self.shift))

    @torch.no_grad()
    def fires(self, dot: torch.Tensor) -> torch.Tensor:
        """Where the neuron fires: :meth:`preactivation` >= 0."""
        return self.preactivation(dot) >= 0

    @torch.no_grad()
    def levels(self, dot: torch.Tensor, bits: int = 2) -> torch.Tensor:
        """Eval-mode ``bits``-bit activations of ``dot``: :func:`levels_of`
        :meth:`preactivation`."""
        return levels_of(self.preactivation(dot), bits)


#: Where :func:`activation2` steps: its output is the number of these ``u`` reaches.
ACTIVATION2_STEPS = (-1.0, 0.0, 1.0)


def levels2(u: torch.Tensor) -> torch.Tensor:
    """Eval-mode 2-bit activations (int64, 0..3) of pre-activations ``u``: the number of
    :data:`ACTIVATION2_STEPS` that ``u >= ``; monotone rising in ``u``. :func:`activation2`'s
    forward value, computed as compares so that a float64 ``u`` folds exactly."""
    return sum((u >= step).to(torch.int64) for step in ACTIVATION2_STEPS)


def activation2(u: torch.Tensor) -> torch.Tensor:
    """A 2-bit unsigned activation {0, 1, 2, 3} of a threshold unit's pre-activation ``u``:
    ``clamp(floor(u) + 2, 0, 3)`` (steps at -1, 0, 1, so ``u >= 0`` still means "at least 2"),
    with a straight-through gradient where ``|u| <= 2``."""
    return activation_levels(u, 2)


def activation_steps(bits: int) -> tuple[float, ...]:
    """Where a ``bits``-bit activation steps: ``(k - 2**(bits-1)) / 2**(bits-2)`` for
    ``k = 1 .. 2**bits - 1``, evenly over ``-2 .. 2`` with 0 among them (``u >= 0`` is "the
    upper half"): -1, 0, 1 at 2 bits (:data:`ACTIVATION2_STEPS`), halves at 3, quarters at 4.
    Dyadic, so a float64 compare against them is exact."""
    half = 1 << (bits - 1)
    return tuple((k - half) / 2.0 ** (bits - 2) for k in range(1, 1 << bits))


def levels_of(u: torch.Tensor, bits: int) -> torch.Tensor:
    """Eval-mode ``bits``-bit activations (int64, ``0 .. 2**bits - 1``) of pre-activations
    ``u``: the number of :func:`activation_steps` that ``u >= ``; monotone rising in ``u``.
    :func:`activation_levels`' forward value, computed as compares so that it folds exactly."""
    return sum((u >= step).to(torch.int64) for step in activation_steps(bits))


def activation_levels(u: torch.Tensor, bits: int) -> torch.Tensor:
    """A ``bits``-bit unsigned activation ``0 .. 2**bits - 1`` of a pre-activation ``u``:
    ``clamp(floor(u * 2**(bits-2)) + 2**(bits-1), 0, 2**bits - 1)`` (steps at
    :func:`activation_steps`), with a straight-through gradient where ``|u| <= 2``, scaled by
    the steps' density."""
    scale = 2.0 ** (bits - 2)
    level = torch.clamp(torch.floor(u.detach() * scale) + (1 << (bits - 1)), 0, (1 << bits) - 1)
    return level + (u - u.detach()) * scale * (u.abs() <= 2).to(u.dtype)


class _BinaryWeights:
    """What binary linear and conv layers share: the weights they multiply by, and the clip.

    ``weight_bits`` 1 gives +-1 weights (the sign), ``b`` = 2..4 the odd levels ``-L .. L``
    (``L = 2**b - 1``; {-3, -1, 1, 3} at 2 bits, as a CIM macro's bit-sliced weights):
    :func:`quantize_levels` of ``2**(b-1)`` times the latent weights in [-1, 1]; with
    ``scaled`` (a digital layer's), of the latent weights over their mean magnitude times
    ``2**(b-2)``, so that the levels are in use from the start whatever the latent weights'
    scale (a per-layer scale the threshold unit absorbs: the levels stay integers)."""

    weight_bits = 1
    scaled = False
    #: Tied 2-D filters (convolutional result sharing, :meth:`BinaryConv2d.tie`): per (output,
    #: input channel) the flat index of the filter it copies and the sign it copies it with.
    ties: tuple[torch.Tensor, torch.Tensor] | None = None

    def binary_weight(self) -> torch.Tensor:
        """The quantized weights, +-1 (or {-3, -1, 1, 3} with 2 bits), with a straight-through
        gradient to the latent weights."""
        if self.weight_bits > 1 and self.scaled:
            with torch.no_grad():
                scale = 2.0 ** (self.weight_bits - 2) / (self.weight.abs().mean() + 1e-12)
            return quantize_levels(self.weight * scale, self.weight_bits)
        if self.weight_bits > 1:
            return quantize_levels((1 << (self.weight_bits - 1)) * self.weight,
                                   self.weight_bits)
        values = binarize(self.weight)
        if self.ties is not None:
            # Each tied filter is its leader's, signed: the leader's latent weights get the
            # gradient of every filter tied to it (a shared parameter).
            leader, sign = self.ties
            flat = values.reshape(leader.numel(), -1)[leader.reshape(-1)]
            values = (flat * sign.reshape(-1, 1).to(values.dtype)).reshape(values.shape)
        return values

    @torch.no_grad()
    def weight_codes(self) -> torch.Tensor:
        """Raw weight codes of :meth:`binary_weight` as the IR stores them: bool (True = +1),
        or ``0 .. L`` standing for ``2c - L``."""
        values = self.binary_weight()
        top = (1 << self.weight_bits) - 1
        return values > 0 if self.weight_bits == 1 else ((values + top) / 2).to(torch.uint8)

    def effective_weight(self) -> torch.Tensor:
        """The weights the layer multiplies by: +-1, or the float twin's."""
        if self.binary:
            return self.binary_weight()
        return self.weight

    def clip_(self):
        """Keep latent weights in [-1, 1] (BinaryConnect), so signs can still flip."""
        if self.binary:
            with torch.no_grad():
                self.weight.clamp_(-1.0, 1.0)


class BinaryLinear(_BinaryWeights, nn.Linear):
    """Linear layer with +-1 weights (latent float weights, binarized on the fly), no bias.

    With ``binary=False`` it is an ordinary float linear
    layer (the float reference model).
    """

    def __init__(self, in_features: int, out_features: int, *, binary: bool = True):
        super().__init__(in_features, out_features, bias=False)
        self.binary = binary
        nn.init.uniform_(self.weight, -1.0, 1.0)

    def forward(self, x):
        return nn.functional.linear(x, self.effective_weight().to(x.dtype))

    def windows(self, x: torch.Tensor) -> torch.Tensor:
        """The input vectors (N, 1, in): one per frame."""
        return x[:, None, :]

    def matrix(self) -> torch.Tensor:
        """The weight matrix (out, in) that multiplies :meth:`windows`."""
        return self.effective_weight()


class BinaryConv2d(_BinaryWeights, nn.Conv2d):
    """2-D convolution with +-1 weights (latent float weights, binarized on the fly), no bias.

    The input is padded with ``pad_value``, the zero element of its encoding (-1 for bipolar
    activations, 0 for binary or integer ones), before a convolution without padding: what the
    sliding-window generator feeds the hardware. With
    ``binary=False`` it is an ordinary float convolution (the float reference model).

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

    @torch.no_grad()
    def tie(self, filters) -> None:
        """Tie the layer's 2-D filters to ``filters`` (out, in, kh * kw) bool (True = +1): from
        now on the filters equal there (or inverse) share one leader's latent weights, which
        start at ``filters``' signs (:mod:`hwgen.ops.smvtu.sharing`'s :func:`~hwgen.ops.smvtu.sharing.tie`)."""
        filters = torch.as_tensor(filters, dtype=torch.bool)
        out, channels = filters.shape[:2]
        flipped = ~filters[..., :1]
        canonical = (filters ^ flipped).to(torch.int64)
        codes = (canonical << torch.arange(filters.shape[2])).sum(dim=-1)          # (out, in)
        leader = torch.empty(out, channels, dtype=torch.int64)
        for c in range(channels):
            first = {}
            for n in range(out):
                first.setdefault(int(codes[n, c]), n)
            leader[:, c] = torch.tensor([first[int(code)] * channels + c
                                         for code in codes[:, c].tolist()])
        # The leader's orientation is its own; each member's sign relates it to its leader.
        orientation = torch.where(flipped[..., 0], -1, 1)
        sign = orientation * orientation.reshape(-1)[leader.reshape(-1)].reshape(out, channels)
        weight = self.weight.reshape(out, channels, -1)
        magnitude = weight.abs().clamp_min(1e-3)
        weight.copy_(torch.where(filters, magnitude, -magnitude))
        self.ties = (leader, sign)

    @torch.no_grad()
    def untie(self) -> None:
        """Write the tied filters into the latent weights and drop the ties: the binarized
        weights stay as they are, and a checkpoint of the layer holds them."""
        if self.ties is None:
            return
        binary = self.binary_weight()
        self.ties = None
        self.weight.copy_(binary * self.weight.abs().clamp_min(1e-3))
        if not torch.equal(self.binary_weight(), binary):
            raise RuntimeError("the tied weights do not survive as latent weights")

    def _pad(self, x):
        ph, pw = self.padding
        if ph or pw:
            x = nn.functional.pad(x, (pw, pw, ph, ph), value=self.pad_value)
        return x

    def forward(self, x):
        return nn.functional.conv2d(self._pad(x), self.effective_weight().to(x.dtype),
                                    stride=self.stride)

    def windows(self, x: torch.Tensor) -> torch.Tensor:
        """The sliding windows of ``x`` (N, C, H, W) as vectors (N, output pixels, kh * kw * C):
        pixels in raster order, each window's elements in (row, column, channel) order, what
        the sliding-window generator streams into the MVTU."""
        n, channels = x.shape[:2]
        kh, kw = self.kernel_size
        cols = nn.functional.unfold(self._pad(x), (kh, kw), stride=self.stride)  # (N, C*kh*kw, P)
        cols = cols.reshape(n, channels, kh, kw, -1).permute(0, 4, 2, 3, 1)
        return cols.reshape(n, cols.shape[1], -1)

    def matrix(self) -> torch.Tensor:
        """The weight matrix (out, kh * kw * in) that multiplies :meth:`windows`."""
        return self.effective_weight().permute(0, 2, 3, 1).reshape(self.out_channels, -1)


class BinaryDepthwiseConv2d(BinaryConv2d):
    """A depthwise convolution with +-1 weights (``model.layers`` type ``dwconv``, the IR's
    :class:`hwgen.ops.VVAULayer`): one ``kernel`` filter per channel (``groups`` = channels),
    padded with ``pad_value`` as :class:`BinaryConv2d`."""

    def __init__(self, channels: int, kernel, *, stride=1, padding=0, pad_value: float = 0.0,
                 binary: bool = True):
        nn.Conv2d.__init__(self, channels, channels, kernel, stride=stride, padding=padding,
                           groups=channels, bias=False)
        self.binary = binary
        self.pad_value = float(pad_value)
        nn.init.uniform_(self.weight, -1.0, 1.0)

    def forward(self, x):
        return nn.functional.conv2d(self._pad(x), self.effective_weight().to(x.dtype),
                                    stride=self.stride, groups=self.groups)

    def filters(self) -> torch.Tensor:
        """The weights (channels, kh * kw), each channel's filter in (row, column) order."""
        return self.effective_weight().reshape(self.out_channels, -1)

    def matrix(self) -> torch.Tensor:
        """The block-diagonal matrix (channels, kh * kw * channels) that multiplies
        :meth:`windows` as a dense layer's would: channel ``c``'s filter at the window
        elements of channel ``c``, zeros elsewhere."""
        filters = self.filters()
        channels, positions = filters.shape
        eye = torch.eye(channels, dtype=filters.dtype, device=filters.device)
        return (filters[:, :, None] * eye[:, None, :]).reshape(channels, positions * channels)


class SumPool2d(nn.Module):
    """Average pooling times the window's size: each window's sum (``model.layers`` type
    ``avgpool``, the IR's :class:`hwgen.ops.AvgPoolLayer`). Over {0, 1} activations the sums are
    the integers the hardware streams, so the next layer's dot products are the IR's exactly.

    Parameters
    ----------
    kernel : (rows, columns) window and stride.
    """

    def __init__(self, kernel: tuple[int, int]):
        super().__init__()
        self.kernel = tuple(kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = self.kernel[0] * self.kernel[1]
        return nn.functional.avg_pool2d(x, self.kernel) * window

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}"


class Add(nn.Module):
    """The elementwise sum of two activations of one shape (``model.layers`` type ``add``, the
    IR's :class:`hwgen.ops.AddLayer`): {0, 1} (or multi-bit) activations added as the integers
    they are, both at one scale, so the sum is what the hardware adds. The model's threshold
    unit for the layer, if any, follows."""

    def forward(self, xs: list) -> torch.Tensor:
        a, b = xs
        return a + b


class Concat(nn.Module):
    """Channel concatenation (``model.layers`` type ``concat``, the IR's
    :class:`hwgen.ops.ConcatLayer`): images along the channels, vectors along their
    features, so each pixel's channels follow in the inputs' order as the hardware streams
    them."""

    def forward(self, xs: list) -> torch.Tensor:
        return torch.cat(list(xs), dim=1)
