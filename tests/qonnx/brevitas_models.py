"""Small Brevitas BNNs for the QONNX import tests: an MLP on bipolar inputs and a CNN on
4-bit unsigned inputs, each with batch norms whose random statistics give some channels a
negative scale; exported with either of Brevitas's exporters."""
import numpy as np
import torch

import brevitas.nn as qnn
from brevitas.export import export_qonnx

from hwgen.qonnx.brevitas import BINARY_ACTS, BINARY_WEIGHTS, uint_input

#: 4-bit unsigned inputs, codes 0..15 at scale 1.
Uint4Input = uint_input(4)


def _randomize(norm, generator):
    with torch.no_grad():
        channels = norm.num_features
        norm.running_mean.copy_(torch.rand(channels, generator=generator) * 6 - 3)
        norm.running_var.copy_(torch.rand(channels, generator=generator) * 3.5 + 0.5)
        norm.weight.copy_(torch.rand(channels, generator=generator) * 2 - 1)   # some < 0
        norm.bias.copy_(torch.rand(channels, generator=generator) * 2 - 1)


class MLP(torch.nn.Module):
    def __init__(self, weights=BINARY_WEIGHTS, bias=False):
        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=BINARY_ACTS, return_quant_tensor=True)
        self.fc1 = qnn.QuantLinear(64, 32, bias=False, weight_quant=weights)
        self.bn1 = torch.nn.BatchNorm1d(32)
        self.act1 = qnn.QuantIdentity(act_quant=BINARY_ACTS, return_quant_tensor=True)
        self.fc2 = qnn.QuantLinear(32, 10, bias=bias, weight_quant=weights)

    def forward(self, x):
        return self.fc2(self.act1(self.bn1(self.fc1(self.inp(x)))))


class CNN(torch.nn.Module):
    """``pool_first``: the max-pool before the second activation (on the batch norm's
    output), as many BNN papers draw it."""
    def __init__(self, input_quant=Uint4Input, padding=1, pool_first=False):
        super().__init__()
        self.pool_first = pool_first
        self.inp = qnn.QuantIdentity(act_quant=input_quant, return_quant_tensor=True)
        self.c1 = qnn.QuantConv2d(1, 8, 3, padding=padding, bias=False,
                                  weight_quant=BINARY_WEIGHTS)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.a1 = qnn.QuantIdentity(act_quant=BINARY_ACTS, return_quant_tensor=True)
        self.c2 = qnn.QuantConv2d(8, 16, 3, bias=False, weight_quant=BINARY_WEIGHTS)
        self.bn2 = torch.nn.BatchNorm2d(16)
        self.a2 = qnn.QuantIdentity(act_quant=BINARY_ACTS, return_quant_tensor=True)
        self.pool = torch.nn.MaxPool2d(2)
        side = (8 + 2 * padding - 2 - 2) // 2
        self.fc = qnn.QuantLinear(16 * side * side, 10, bias=False,
                                  weight_quant=BINARY_WEIGHTS)

    def forward(self, x):
        x = self.a1(self.bn1(self.c1(self.inp(x))))
        if self.pool_first:
            x = self.a2(self.pool(self.bn2(self.c2(x))))
        else:
            x = self.pool(self.a2(self.bn2(self.c2(x))))
        return self.fc(torch.flatten(x, 1))


def make(model: torch.nn.Module, seed: int = 0, positive: bool = False) -> torch.nn.Module:
    """``model`` with random batch-norm statistics (``positive``: every scale > 0)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            _randomize(module, generator)
            if positive:
                with torch.no_grad():
                    module.weight.abs_().add_(0.05)
    return model.eval()


def export(model: torch.nn.Module, path, *, dynamo: bool, shape) -> str:
    export_qonnx(model, torch.zeros(shape), export_path=str(path), dynamo=dynamo)
    return str(path)


def frames(count: int, elements: int, top: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, top + 1, (count, elements)), rng.integers(0, 10, count)
