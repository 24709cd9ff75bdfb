"""The flow behind the CLI: train -> export -> hardware -> verify -> build -> report, each step
reusing its product when nothing it depends on changed.

Everything goes under one output directory (default ``build/<spec name>/``)::

    checkpoint.pt     trained model + metrics, keyed by data/model/train/seed
    model.ir.npz      the integer IR, keyed by the checkpoint and the folding
    hardware.ir.npz   the IR as built: auto-folded (with a target) and FIFOs sized by simulation,
                      keyed by the IR, the hardware options and the generators' sources;
                      meta["fifo_sizing"] says how
    verify.json       RTL vs golden co-simulation of the hardware IR
    gateware/         Verilog, bitstream, tool logs, keyed by the hardware IR, board, placer
    report.json/.md   the figures of the run, plots/ its figures

The package:

* :mod:`.steps`: the steps in order (:data:`STEPS`) and :func:`run_steps`, which runs a slice
  of them (``--from``, ``--to``).
* :mod:`.workspace`: :class:`Workspace`, one spec's output directory; its methods are the steps.
* :mod:`.train`, :mod:`.export`, :mod:`.hardware`, :mod:`.verify`, :mod:`.build`,
  :mod:`.report`: one step each: its key and how it makes its product.
* :mod:`.cache`: :func:`reuse_or_make`, the one way every step keeps its product: reused when
  intact and made for its key, else made in a staging path and renamed into place (an
  interrupted run leaves no half-written output; files get the user's umask).
* :mod:`.sources`: the source closure that keys the hardware, verification, bitstream and
  report (the modules a step's own module can reach, found by parsing the package).
* :mod:`.checkpoint`, :mod:`.irfile`: how checkpoints and IR files are read as products.
* :mod:`.plots`: the report's figures.

Nothing is reused unchecked: each file carries a sha256 of its content (the checkpoint and the
IRs an entry of their own, the JSON summaries a ``digest`` field over the rest, build.json the
bitstream's too, report.json the Markdown's and plots'), so a file cut short, damaged or edited
by hand is said to be damaged and made again. hwgen writes only under the output directory:
shipped results (``train.prebuilt``) and a pinned ``train.checkpoint`` are read, never written.
"""
from .cache import read_summary, reuse_or_make
from .checkpoint import read_checkpoint, save_checkpoint
from .steps import STEP_NAMES, STEPS, Run, Step, run_steps
from .workspace import Workspace

__all__ = ["Workspace", "STEPS", "STEP_NAMES", "Step", "Run", "run_steps", "reuse_or_make",
           "read_summary", "read_checkpoint", "save_checkpoint"]
