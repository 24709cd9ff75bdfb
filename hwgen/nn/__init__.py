"""Training: binarized layers with straight-through estimators, the model built from a spec."""
from .layers import BinaryLinear, binarize
from .model import BNN
from .train import TrainResult, train_model

__all__ = ["BinaryLinear", "binarize", "BNN", "train_model", "TrainResult"]
