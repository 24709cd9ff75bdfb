"""Design-space sweeps: ``hwgen sweep SWEEP.yaml`` runs a base spec at every point of its
axes (``plan.py``: the sweep file, its points) in parallel and streams the results into one
table (``run.py``: ``results.jsonl``, ``results.csv``; ``report.py``: Pareto fronts and heat
maps in ``report.md``), resuming where an interrupted sweep
stopped."""
from .plan import METRICS, STEPS, Point, Sweep, load_sweep
from .report import pareto_front, write_report
from .run import point_metrics, run_sweep

__all__ = ["Sweep", "Point", "load_sweep", "run_sweep", "point_metrics", "METRICS", "STEPS",
           "pareto_front", "write_report"]
