"""The flow's steps, in order, in one place (:data:`STEPS`), and :func:`run_steps`, which runs
a contiguous slice of them (``--from`` / ``--to``).

Each step takes the products of the steps before it from the :class:`Run` (their content,
reused or made) and makes or reuses its own through the workspace
(:meth:`~hwgen.flow.workspace.Workspace.keep`). A lazy step (train: the checkpoint is needed
only to export the IR) runs when a later step asks for its product, or when it is the last of
the run. The steps before ``--from`` do not run: the products a later step asks of them must be
saved, intact and made for the spec's settings, or the run stops in one line saying which step
to run first. The steps after ``--to`` do not run.

Steps that need none of each other's products run at the same time (verify and build: the
co-simulation beside synthesis, place and route, each on a core of its own); each says which
earlier products it asks for (:attr:`Step.needs`). When one of them fails the others are
cancelled (:attr:`Run.cancelled`: the build's tools are stopped) and the first failure in step
order is raised.
"""
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import HwgenError, SpecError

__all__ = ["Step", "STEPS", "STEP_NAMES", "Run", "run_steps"]


@dataclass(frozen=True)
class Step:
    """One step of the flow."""
    #: Its name (``--from`` / ``--to``).
    name: str
    #: What it does and what it saves, one line (``--help``).
    summary: str
    #: ``run(run)``: the step's product, reused or made; earlier ones from ``run.product``.
    run: Callable[["Run"], object]
    #: ``show(workspace, product)``: the product as ``hwgen`` prints it.
    show: Callable[[object, object], str]
    #: Whether a run may skip it (``--no-verify``; ``hwgen sim`` builds no bitstream): the
    #: steps after it then go without its product.
    optional: bool = False
    #: Whether it runs only when a later step asks for its product (or it ends the run).
    lazy: bool = False
    #: The earlier steps whose products it asks for (a lazy step's too): a step runs beside
    #: the earlier ones it does not need.
    needs: tuple = ()

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"a step's name must be an identifier, not {self.name!r}")


@dataclass(frozen=True)
class Run:
    """One run of a slice of :data:`STEPS`: what it was asked and the products so far."""
    workspace: object
    #: The board to build for (its design clock set), if any.
    board: object = None
    #: The design clock (Hz) that turns ``hardware.target_fps`` into cycles per frame.
    clock_hz: float | None = None
    #: Test frames to co-simulate (None: the spec's ``verify.frames``).
    frames: int | None = None
    #: Whether the co-simulation writes a waveform (it is then never reused).
    trace: bool = False
    #: Steps whose products are made again even if saved ones would do.
    force: frozenset = frozenset()
    #: Steps not run; the steps after them go without their products.
    skip: frozenset = frozenset()
    #: Lazy steps of the run, which run when a later one asks for their products.
    deferred: frozenset = frozenset()
    #: The products so far, by step name (None for a skipped step).
    results: dict = field(default_factory=dict)
    #: Wall seconds each step took in this run (making or finding its product), by step
    #: name; a lazy step's own, not counted in the step that asked for it. Steps that ran
    #: side by side each count their own wall time.
    seconds: dict = field(default_factory=dict)
    #: Set when a step of those running side by side failed: the others stop at their next
    #: chance (the build step between and inside its tools' runs).
    cancelled: threading.Event = field(default_factory=threading.Event)
    _nested: threading.local = field(default_factory=threading.local, repr=False)

    def _run_step(self, name: str):
        """Run step ``name`` and keep its product and its seconds."""
        nested = self._nested.__dict__.setdefault("stack", [])
        started = time.perf_counter()
        nested.append(0.0)
        try:
            self.results[name] = STEP[name].run(self)
        finally:
            elapsed = time.perf_counter() - started
            inner = nested.pop()
            self.seconds[name] = elapsed - inner
            if nested:
                nested[-1] += elapsed
        return self.results[name]

    def _run_side_by_side(self, names: list):
        """Run the steps ``names`` (none needs another's product) at the same time: the first
        in this thread, the others in threads of their own; when one fails, the others are
        cancelled and the first failure in step order is raised once all have stopped."""
        errors = {}

        def work(name):
            try:
                self._run_step(name)
            except BaseException as error:       # re-raised in this thread, below
                errors[name] = error
                self.cancelled.set()
        threads = [threading.Thread(target=work, args=(name,), name=f"hwgen-{name}")
                   for name in names[1:]]
        for thread in threads:
            thread.start()
        try:
            work(names[0])
        finally:
            if names[0] in errors:
                self.cancelled.set()
            for thread in threads:
                while thread.is_alive():           # a Ctrl-C here still cancels them
                    try:
                        thread.join()
                    except BaseException:
                        self.cancelled.set()
                        raise
        for name in names:
            if name in errors:
                raise errors[name]

    @property
    def target(self):
        """The FPGA family the blocks are built for: the board's, else
        :data:`hwgen.target.DEFAULT_TARGET`."""
        from ..target import DEFAULT_TARGET
        return self.board.target if self.board is not None else DEFAULT_TARGET

    @property
    def device(self) -> str | None:
        """The part the folding must fit: the board's, else None (no budget)."""
        return self.board.device if self.board is not None else None

    def product(self, name: str):
        """The product of step ``name``, which comes before the one asking: made or reused in
        this run (a lazy step: now), else (a step before ``--from``) found saved; None when it
        is skipped."""
        if name not in self.results:
            if name in self.skip:
                self.results[name] = None
            elif name in self.workspace.found_only or name in self.deferred:
                self._run_step(name)
            else:
                raise ValueError(f"step {name!r} has not run yet")
        return self.results[name]


def _without_key(summary: dict) -> str:
    return json.dumps({k: v for k, v in summary.items() if k != "key"}, indent=2)


def _build(run: Run):
    if run.board is None:
        raise HwgenError("the build step needs a board (--board, or the spec's board)")
    return run.workspace.build(run.product("hardware"), run.board,
                               force="build" in run.force, cancel=run.cancelled)


#: The steps, in the order they run.
STEPS = (
    Step("train", "train the float reference and the BNN (checkpoint.pt)",
         lambda run: run.workspace.train(force="train" in run.force),
         lambda workspace, metrics: json.dumps(metrics, indent=2), lazy=True),
    Step("export", "export the integer IR, checked equal to the model (model.ir.npz)",
         lambda run: run.workspace.export(force="export" in run.force,
                                          train=lambda: run.product("train")),
         lambda workspace, graph: str(workspace.ir_file), needs=("train",)),
    Step("hardware", "fold for the throughput target and size the FIFOs (hardware.ir.npz)",
         lambda run: run.workspace.hardware(lambda: run.product("export"),
                                            clock_hz=run.clock_hz, target=run.target,
                                            device=run.device,
                                            force="hardware" in run.force),
         lambda workspace, graph: str(workspace.hardware_ir_file), needs=("export",)),
    Step("verify", "co-simulate the RTL against the golden model (verify.json)",
         lambda run: run.workspace.verify(run.product("hardware"), frames=run.frames,
                                          trace=run.trace, target=run.target,
                                          force="verify" in run.force),
         lambda workspace, verification: _without_key(verification), optional=True,
         needs=("hardware",)),
    Step("build", "synthesize, place and route the board top's bitstream (gateware/)",
         _build, lambda workspace, build: _without_key(build), optional=True,
         needs=("hardware",)),
    Step("report", "write report.md, report.json and plots/",
         lambda run: run.workspace.write_report(run.product("hardware"),
                                                verification=run.product("verify"),
                                                build=run.product("build"),
                                                target=run.target),
         lambda workspace, report: workspace.report_file.read_text(),
         needs=("hardware", "verify", "build")),
)

#: The steps' names, in order.
STEP_NAMES = tuple(step.name for step in STEPS)
for _index, _step in enumerate(STEPS):
    if not set(_step.needs) <= set(STEP_NAMES[:_index]):
        raise ValueError(f"step {_step.name!r} needs {_step.needs}: only earlier steps' products")

#: The steps by name.
STEP = {step.name: step for step in STEPS}


def _check_name(option: str, name: str):
    if name not in STEP:
        raise SpecError(option, None, f"no step {name!r}", allowed=", ".join(STEP_NAMES))


def run_steps(workspace, *, start: str = STEP_NAMES[0], stop: str = STEP_NAMES[-1],
              skip=(), force=(), board=None, clock_hz: float | None = None,
              frames: int | None = None, trace: bool = False) -> Run:
    """Run the steps from ``start`` to ``stop`` (``--from``, ``--to``) on ``workspace``.

    The steps before ``start`` are only looked up, where a later step needs their product
    (HwgenError in one line when it is not saved); a lazy step runs where a later one needs
    its product, or when it is ``stop``; those in ``skip`` (optional ones) do not run. ``force`` names steps to make again; ``board``, ``clock_hz``, ``frames`` and
    ``trace`` go to the steps that use them (see :class:`Run`). Returns the :class:`Run`,
    whose ``results`` hold each product by step name.
    """
    _check_name("--from", start)
    _check_name("--to", stop)
    first, last = STEP_NAMES.index(start), STEP_NAMES.index(stop)
    if first > last:
        raise SpecError("--from", None, f"{start} comes after --to {stop}",
                        allowed=", ".join(STEP_NAMES))
    skip, force = frozenset(skip), frozenset(force)
    for name in skip | force:
        if name not in STEP:
            raise ValueError(f"no step {name!r}: the steps are {', '.join(STEP_NAMES)}")
    for name in skip:
        if not STEP[name].optional:
            raise ValueError(f"step {name!r} cannot be skipped: later steps need its product")
    if start in skip:
        raise SpecError("--from", None, f"{start} is not run here",
                        allowed=", ".join(name for name in STEP_NAMES if name not in skip))
    workspace.found_only = frozenset(STEP_NAMES[:first])
    workspace.found_only_reason = f"--from {start}"
    steps = STEPS[first:last + 1]
    run = Run(workspace, board=board, clock_hz=clock_hz, frames=frames, trace=trace,
              force=force, skip=skip, deferred=frozenset(
                  step.name for step in steps[:-1] if step.lazy and step.name not in skip))
    try:
        for name in (step.name for step in steps if step.name in skip):
            run.results[name] = None
        waiting = [step for step in steps if step.name not in skip | run.deferred]
        while waiting:
            # The next step, and those after it that need none of the steps before them
            # still to run (nor a lazy one, which runs where it is asked for).
            group = [waiting.pop(0)]
            while waiting and not waiting[0].lazy and not group[0].lazy and \
                    not set(waiting[0].needs) & {step.name for step in group}:
                group.append(waiting.pop(0))
            names = [step.name for step in group if step.name not in run.results]
            if len(names) > 1:
                run._run_side_by_side(names)
            elif names:
                run._run_step(names[0])
    finally:
        workspace.found_only, workspace.found_only_reason = frozenset(), ""
    return run
