"""Golden models: the IR executed in torch, integer-exact, one module per hardware block."""
from .mvtu import decode, mvtu, mvtu_dot
from .network import GoldenResult, run_graph, run_layers

__all__ = ["decode", "mvtu", "mvtu_dot", "run_graph", "run_layers", "GoldenResult"]
