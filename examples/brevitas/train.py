"""Train a small binarized CNN on scikit-learn's digits in Brevitas and export it to QONNX
(``digits_cnn.onnx`` beside this file), on the frames hwgen's spec ``digits_cnn.yaml`` gives:
4-bit pixel codes, 1x8x8.

    pip install -e '.[brevitas]'
    python examples/brevitas/train.py            # writes examples/brevitas/digits_cnn.onnx
    hwgen build --board ulx3s examples/brevitas/digits_cnn.yaml

The network is what FINN's Brevitas examples look like: a 4-bit unsigned input quantizer,
+-1 weights (``SignedBinaryWeightPerTensorConst``), batch norms, +-1 activations
(``SignedBinaryActPerTensorConst``), a max-pool after the activation, a linear classifier.
"""
import argparse
from pathlib import Path

import torch

import brevitas.nn as qnn
from brevitas.export import export_qonnx

from hwgen.data import load_dataset
from hwgen.qonnx.brevitas import BINARY_ACTS as ACTS
from hwgen.qonnx.brevitas import BINARY_WEIGHTS as WEIGHTS
from hwgen.qonnx.brevitas import uint_input
from hwgen.spec import load_spec

HERE = Path(__file__).resolve().parent
#: The spec's 4-bit pixel codes 0..15, at scale 1.
Pixels = uint_input(4)


class DigitsCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pixels = qnn.QuantIdentity(act_quant=Pixels, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 16, 3, padding=1, bias=False, weight_quant=WEIGHTS)
        self.bn1 = torch.nn.BatchNorm2d(16)
        self.act1 = qnn.QuantIdentity(act_quant=ACTS, return_quant_tensor=True)
        self.conv2 = qnn.QuantConv2d(16, 32, 3, bias=False, weight_quant=WEIGHTS)
        self.bn2 = torch.nn.BatchNorm2d(32)
        self.act2 = qnn.QuantIdentity(act_quant=ACTS, return_quant_tensor=True)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = qnn.QuantLinear(32 * 3 * 3, 10, bias=False, weight_quant=WEIGHTS)

    def forward(self, x):
        x = self.act1(self.bn1(self.conv1(self.pixels(x))))
        x = self.pool(self.act2(self.bn2(self.conv2(x))))
        return self.fc(torch.flatten(x, 1))


def images(frames) -> torch.Tensor:
    """hwgen's frames (N, 64 codes, stream order) as the model's NCHW input."""
    return torch.as_tensor(frames, dtype=torch.float32).reshape(-1, 1, 8, 8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", type=Path, default=HERE / "digits_cnn.onnx")
    args = parser.parse_args()
    spec = load_spec(HERE / "digits_cnn.yaml")
    torch.manual_seed(spec.seed)
    data = load_dataset(spec.data, spec.seed)
    x, y = images(data.train_x), torch.as_tensor(data.train_y)
    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, args.epochs)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x))
        for start in range(0, len(x), 64):
            batch = order[start:start + 64]
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(images(data.test_x)).argmax(1).numpy() == data.test_y).mean()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test accuracy {accuracy:.4f}")
    export_qonnx(model, images(data.test_x[:1]), export_path=str(args.out), dynamo=False)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
