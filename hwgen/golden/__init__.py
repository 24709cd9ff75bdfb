"""Golden model of a graph: the IR executed in torch, integer-exact, through each op's own golden
model (:mod:`hwgen.ops`)."""
from ..ops.mvtu.golden import decode, mvtu, mvtu_dot
from .network import GoldenResult, run_graph, run_graphs, run_layers

__all__ = ["decode", "mvtu", "mvtu_dot", "run_graph", "run_graphs", "run_layers", "GoldenResult"]
