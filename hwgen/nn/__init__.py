"""Training: binarized layers with straight-through estimators, threshold units (batch norm or
batch-norm-free), the model built from a spec with its matrix-vector hook, noise-aware training
and robustness measures."""
from .layers import (BatchNormThreshold, BinaryConv2d, BinaryLinear, CentredThreshold,
                     batchnorm_fires, binarize)
from .model import BNN, MVM, exact_mvm
from .robustness import GaussianMVM, activation_stats, evaluate_under_noise
from .train import TrainResult, train_model

__all__ = ["BinaryLinear", "BinaryConv2d", "binarize", "batchnorm_fires",
           "BatchNormThreshold", "CentredThreshold", "BNN", "MVM", "exact_mvm", "GaussianMVM",
           "evaluate_under_noise", "activation_stats", "train_model", "TrainResult"]
