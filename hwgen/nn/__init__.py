"""Training: binarized layers with straight-through estimators, the model built from a spec."""
from .layers import BinaryConv2d, BinaryLinear, batchnorm_fires, binarize
from .model import BNN
from .train import TrainResult, train_model

__all__ = ["BinaryLinear", "BinaryConv2d", "binarize", "batchnorm_fires", "BNN", "train_model",
           "TrainResult"]
