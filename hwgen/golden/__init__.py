"""Golden models: the IR executed in torch, integer-exact, one module per hardware block."""
from .mvtu import mvtu, mvtu_popcount
from .network import GoldenResult, run_graph

__all__ = ["mvtu", "mvtu_popcount", "run_graph", "GoldenResult"]
