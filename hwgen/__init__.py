"""hwgen: binarized neural networks to verified streaming hardware for FPGAs and CIM macros."""

__version__ = "0.1.0"
