"""Binarized building blocks: sign with a straight-through estimator, binary linear and
convolution layers, and the threshold units between a hidden layer's dot product and its sign.

A threshold unit takes dot products with the neurons (channels) in the last dimension: its
``forward`` gives the training-time pre-activation (whose sign is the output bit), its
``fires`` the eval-mode output bit, computed by one float64 formula that the model's inference
and the export's threshold fold share, so the fold reproduces the model exactly.

* :class:`BatchNormThreshold`: batch norm, then ``- shift`` (:func:`batchnorm_fires`).
* :class:`LearnedThreshold` (``model.norm: bnfree``): ``dot / scale - bias - shift``, with a
  per-neuron ``scale`` fixed at the first training batch (the dot product's standard
  deviation there), a learned ``bias`` and a learned positive gain that only sets the
  straight-through window; no batch statistics after initialisation.
"""
import torch
from torch import nn

__all__ = ["binarize", "quantize2", "activation2", "ACTIVATION2_STEPS", "levels2",
           "batchnorm_fires", "batchnorm_preactivation", "standardize", "BinaryLinear",
           "BinaryConv2d",
           "BatchNormThreshold", "LearnedThreshold"]


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
    level = 2 * torch.clamp(torch.floor(x.detach()) + 2, 0, 3) - 3
    window = (x.abs() <= 2).to(x.dtype)
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

    def forward(self, dot: torch.Tensor) -> torch.Tensor:
        flat = super().forward(dot.reshape(-1, dot.shape[-1]))
        return flat.reshape(dot.shape) - self.shift

    def fires(self, dot: torch.Tensor) -> torch.Tensor:
        return batchnorm_fires(self, dot, self.shift)

    @torch.no_grad()
    def levels(self, dot: torch.Tensor) -> torch.Tensor:
        """Eval-mode 2-bit activations of ``dot``: :func:`levels2` of the float64 training
        pre-activation (:func:`batchnorm_preactivation`, which :func:`batchnorm_fires`
        compares with 0)."""
        return levels2(batchnorm_preactivation(self, dot, self.shift))


class LearnedThreshold(nn.Module):
    """The batch-norm-free threshold unit: the neuron fires where ``dot / scale - bias - shift
    >= 0`` (:meth:`fires`, float64), a plain threshold on the dot product.

    ``scale`` (a buffer) is the dot product's per-neuron standard deviation over the first
    training batch, ``bias`` (learned) starts at its mean over ``scale``, so a neuron starts
    balanced (less ``shift`` standard deviations) and then learns where to sit; no batch
    statistics are used after that first batch, nothing is divided at inference. The training
    pre-activation is ``exp(log_gain) * (dot / scale - (bias + shift))``: the learned positive
    gain does not change the sign, only how wide the straight-through window is.

    Parameters
    ----------
    channels : int
        Neurons.
    scale : float
        ``scale`` until the first training batch replaces it (e.g. sqrt of the fan-in).
    shift : float
        Threshold shift, in ``scale`` units.
    """

    def __init__(self, channels: int, *, scale: float = 1.0, shift: float = 0.0):
        super().__init__()
        self.num_features = channels
        self.shift = float(shift)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_gain = nn.Parameter(torch.zeros(channels))
        self.register_buffer("scale", torch.full((channels,), float(scale)))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _initialize(self, dot: torch.Tensor):
        flat = dot.reshape(-1, dot.shape[-1]).to(torch.float64)
        # An integer dot product's spread is >= 1 unless it is constant: keep scale >= 1.
        std = flat.std(dim=0, unbiased=False).clamp(min=1.0)
        self.scale.copy_(std)
        self.bias.copy_(flat.mean(dim=0) / std)
        self.initialized.fill_(True)

    def forward(self, dot: torch.Tensor) -> torch.Tensor:
        if self.training and not self.initialized:
            self._initialize(dot)
        scale = self.scale.to(dot.dtype)
        return self.log_gain.exp() * (dot / scale - (self.bias + self.shift))

    @torch.no_grad()
    def fires(self, dot: torch.Tensor) -> torch.Tensor:
        """Where the neuron fires: ``dot / scale - (bias + shift) >= 0`` in float64, monotone
        rising in ``dot``; the training pre-activation's sign in float64."""
        dot = dot.to(torch.float64)
        scale = self.scale.to(torch.float64)
        return dot / scale - (self.bias.to(torch.float64) + self.shift) >= 0

    @torch.no_grad()
    def levels(self, dot: torch.Tensor) -> torch.Tensor:
        """Eval-mode 2-bit activations of ``dot``: :func:`levels2` of the training
        pre-activation ``gain * (dot / scale - (bias + shift))`` in float64 (the gain sets
        where the outer steps lie); monotone rising in ``dot``."""
        dot = dot.to(torch.float64)
        u = self.log_gain.to(torch.float64).exp() * (
            dot / self.scale.to(torch.float64) - (self.bias.to(torch.float64) + self.shift))
        return levels2(u)


def standardize(weight: torch.Tensor) -> torch.Tensor:
    """Weight standardization per output neuron (every dimension but the first): zero mean,
    unit standard deviation, so the signs are about half +1, half -1 for each neuron. The
    usual scaling by gain / sqrt(fan-in) is left out: binarized weights have no magnitude, and
    the threshold unit normalizes the dot product."""
    dims = tuple(range(1, weight.ndim))
    mean = weight.mean(dim=dims, keepdim=True)
    std = weight.std(dim=dims, keepdim=True, unbiased=False)
    return (weight - mean) / (std + 1e-5)


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
    level = torch.clamp(torch.floor(u.detach()) + 2, 0, 3)
    return level + (u - u.detach()) * (u.abs() <= 2).to(u.dtype)


class _BinaryWeights:
    """What binary linear and conv layers share: the weights they multiply by, and the clip.

    ``weight_bits`` 1 gives +-1 weights (the sign), 2 the levels {-3, -1, 1, 3} of a CIM
    macro's bit-sliced 2-bit weights (:func:`quantize2` of the standardized weights, or of
    twice the latent weights in [-1, 1])."""

    weight_bits = 1
    #: Tied 2-D filters (convolutional result sharing, :meth:`BinaryConv2d.tie`): per (output,
    #: input channel) the flat index of the filter it copies and the sign it copies it with.
    ties: tuple[torch.Tensor, torch.Tensor] | None = None

    def binary_weight(self) -> torch.Tensor:
        """The quantized weights, +-1 (or {-3, -1, 1, 3} with 2 bits), with a straight-through
        gradient to the latent weights."""
        latent = standardize(self.weight) if self.standardized else self.weight
        if self.weight_bits == 2:
            return quantize2(latent if self.standardized else 2 * latent)
        values = binarize(latent)
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
        or 0..3 standing for ``2c - 3``."""
        values = self.binary_weight()
        return values > 0 if self.weight_bits == 1 else ((values + 3) / 2).to(torch.uint8)

    def effective_weight(self) -> torch.Tensor:
        """The weights the layer multiplies by: +-1, or the float twin's (standardized) ones."""
        if self.binary:
            return self.binary_weight()
        return standardize(self.weight) if self.standardized else self.weight

    def clip_(self):
        """Keep latent weights in [-1, 1] (BinaryConnect), so signs can still flip."""
        if self.binary:
            with torch.no_grad():
                self.weight.clamp_(-1.0, 1.0)


class BinaryLinear(_BinaryWeights, nn.Linear):
    """Linear layer with +-1 weights (latent float weights, binarized on the fly), no bias.

    With ``standardized=True`` the latent weights are standardized per neuron
    (:func:`standardize`) before the sign. With ``binary=False`` it is an ordinary float linear
    layer (the float reference model).
    """

    def __init__(self, in_features: int, out_features: int, *, binary: bool = True,
                 standardized: bool = False):
        super().__init__(in_features, out_features, bias=False)
        self.binary = binary
        self.standardized = standardized
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
    sliding-window generator feeds the hardware. With ``standardized=True`` the latent weights
    are standardized per output channel (:func:`standardize`) before the sign. With
    ``binary=False`` it is an ordinary float convolution (the float reference model).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel, stride, padding : int or (rows, columns)
    pad_value : float
        Value of the padding elements.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel, *, stride=1, padding=0,
                 pad_value: float = 0.0, binary: bool = True, standardized: bool = False):
        super().__init__(in_channels, out_channels, kernel, stride=stride, padding=padding,
                         bias=False)
        self.binary = binary
        self.standardized = standardized
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
        # A standardized layer's +-1 latent weights binarize to themselves (not all one sign).
        self.weight.copy_(binary if self.standardized
                          else binary * self.weight.abs().clamp_min(1e-3))
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
