"""One spec's output directory and the steps that fill it."""
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..errors import HwgenError, SpecError
from ..spec import Spec
from ..target import DEFAULT_TARGET, Target
from . import build as build_step
from . import export as export_step
from . import hardware as hardware_step
from . import report as report_step
from . import train as train_step
from . import verify as verify_step
from .cache import NotFound, Outcome, Product, reuse_or_make

__all__ = ["Workspace"]


@dataclass
class Workspace:
    """One spec's output directory and the steps that fill it: each step's product is reused
    when it is intact and made for the spec's settings (see :func:`.cache.reuse_or_make`),
    else made. :func:`hwgen.flow.steps.run_steps` runs them in order."""
    spec: Spec
    root: Path
    #: Takes each message ("reusing IR ...", "training on ...").
    say: object = print
    #: What this run reused instead of making (for the report).
    reused: list = dataclasses.field(default_factory=list)
    #: The checkpoint the train step settled on (the saved, shipped or pinned one).
    checkpoint_in_use: Path | None = None
    #: Steps whose products may only be found, never made (those before ``--from``), and the
    #: option that says so, for the message when one is missing.
    found_only: frozenset = frozenset()
    found_only_reason: str = ""
    #: Whether long steps draw progress bars (training's epochs); a sweep's workers do not.
    progress: bool = True

    @classmethod
    def create(cls, spec: Spec, out=None, *, seed: int | None = None, say=print) -> "Workspace":
        """The workspace of ``spec`` in ``out`` (default ``build/<spec name>``, and
        ``build/<spec name>-seed<N>`` for a ``seed`` other than the spec's, so that runs of
        several seeds keep their own products); SpecError (naming ``--out``) when that is a
        file, or the spec's shipped ``train.prebuilt`` folder, which hwgen only reads."""
        folder = spec.name
        if seed is not None and seed != spec.seed:
            folder = f"{spec.name}-seed{seed}"
        if seed is not None:
            spec = dataclasses.replace(spec, seed=seed)
        root = (Path(out) if out is not None else Path.cwd() / "build" / folder).resolve()
        option = "--out" if out is not None else str(root)
        for folder in (root, *root.parents):       # the nearest that exists must be a folder
            if folder.exists() or folder.is_symlink():
                if not folder.is_dir():
                    where = "is" if folder == root else f"lies under {folder}, which is"
                    raise SpecError(option, None, f"{root} {where} a file, not a folder")
                break
        if spec.prebuilt_path is not None and root == spec.prebuilt_path:
            raise SpecError(option, None, f"{root} is the spec's train.prebuilt folder, whose "
                                          f"shipped results hwgen only reads: give another")
        return cls(spec=spec, root=root, say=say)

    def keep(self, step: str, product: Product, key: str | None, make, *,
             force: bool = False) -> Outcome:
        """``product`` of ``step``, reused or made by :func:`.cache.reuse_or_make` with this
        workspace's messages and reuse list. A step in :attr:`found_only` must find it:
        HwgenError (one line saying which step to run first) when it is missing, damaged or
        made from other settings."""
        if step in self.found_only:
            try:
                return reuse_or_make(product, key, None, say=self.say, reused=self.reused)
            except NotFound as error:
                raise HwgenError(f"{self.found_only_reason}: {error}; run the steps up to "
                                 f"{step} first (--to {step})") from None
        return reuse_or_make(product, key, make, say=self.say, reused=self.reused, force=force)

    # --- keys ----------------------------------------------------------------------------
    @property
    def train_key(self) -> str:
        """The checkpoint's key: the training settings (:func:`.train.train_key`)."""
        return train_step.train_key(self.spec)

    @property
    def ir_key(self) -> str:
        """The IR's key (:func:`.export.ir_key`)."""
        return export_step.ir_key(self.spec, self.train_key)

    @property
    def hardware_key(self) -> str:
        """The hardware's key before a throughput target (:func:`.hardware.hardware_key`)."""
        return hardware_step.hardware_key(self)

    # --- paths ---------------------------------------------------------------------------
    @property
    def checkpoint_file(self) -> Path:
        """The checkpoint export reads: the spec's ``train.checkpoint`` if it pins one, else
        ``checkpoint.pt`` in the output folder (where training writes)."""
        return self.spec.checkpoint_path or self.root / "checkpoint.pt"

    @property
    def ir_file(self) -> Path:
        return self.root / "model.ir.npz"

    @property
    def hardware_ir_file(self) -> Path:
        return self.root / "hardware.ir.npz"

    @property
    def verify_file(self) -> Path:
        return self.root / "verify.json"

    @property
    def gateware_dir(self) -> Path:
        return self.root / "gateware"

    @property
    def report_file(self) -> Path:
        return self.root / "report.md"

    # --- the steps -----------------------------------------------------------------------
    def train(self, *, force: bool = False) -> dict:
        """The train step (:func:`.train.train`): the checkpoint's metrics."""
        return train_step.train(self, force=force)

    def load_model(self):
        """The trained BNN and its metrics (:func:`.train.load_model`)."""
        return train_step.load_model(self)

    def export(self, *, force: bool = False, train=None):
        """The export step (:func:`.export.export`): the IR."""
        return export_step.export(self, force=force, train=train)

    def hardware(self, graph, *, clock_hz: float | None = None,
                 target: Target = DEFAULT_TARGET, device: str | None = None,
                 force: bool = False):
        """The hardware step (:func:`.hardware.hardware`): the IR as built."""
        return hardware_step.hardware(self, graph, clock_hz=clock_hz, target=target,
                                      device=device, force=force)

    def verify(self, graph, *, frames: int | None = None, force: bool = False,
               trace: bool = False, target: Target = DEFAULT_TARGET) -> dict:
        """The verify step (:func:`.verify.verify`): the co-simulation's summary."""
        return verify_step.verify(self, graph, frames=frames, force=force, trace=trace,
                                  target=target)

    def build(self, graph, board, *, force: bool = False, cancel=None) -> dict:
        """The build step (:func:`.build.build`): the bitstream's summary."""
        return build_step.build(self, graph, board, force=force, cancel=cancel)

    def write_report(self, graph, *, verification: dict | None = None,
                     build: dict | None = None, target: Target = DEFAULT_TARGET) -> dict:
        """The report step (:func:`.report.write_report`): the report as data."""
        return report_step.write_report(self, graph, verification=verification, build=build,
                                        target=target)

    # --- around the steps ----------------------------------------------------------------
    def clocked(self, board):
        """``board`` with the spec's ``hardware.clock_mhz`` (:func:`.build.clocked`)."""
        return build_step.clocked(self.spec, board)

    def board_top(self, graph, board):
        """The board top the build step synthesizes (:func:`.build.board_top`)."""
        return build_step.board_top(self.spec, graph, board)

    def checked_bitstream(self, board) -> Path:
        """The bitstream built for ``board``, checked (:func:`.build.checked_bitstream`)."""
        return build_step.checked_bitstream(self.gateware_dir, board.target.bitstream_suffix)

    def check_timing(self, build: dict):
        """HwgenError unless ``build`` met its clock (:func:`.build.check_timing`)."""
        build_step.check_timing(build, self.report_file)

    def read_report(self) -> str:
        """The last run's Markdown report, checked (:func:`.report.read_report`)."""
        return report_step.read_report(self.root)
