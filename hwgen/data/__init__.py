"""Datasets as binary input frames: ``load_dataset(data_spec, seed)``."""
from .images import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]
