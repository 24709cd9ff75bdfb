"""Datasets as input frames in stream order: ``load_dataset(data_spec, seed)``."""
from .images import Dataset, check_data, load_dataset, quantize

__all__ = ["Dataset", "load_dataset", "check_data", "quantize"]
