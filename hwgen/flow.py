"""The steps behind the CLI: train -> export -> verify -> build -> report, each reusing its output.

Everything goes under one output directory (default ``build/<spec name>/``)::

    checkpoint.pt     trained model + metrics, keyed by data/model/train/seed
    model.ir.npz      the integer IR, keyed by the checkpoint and the folding
    hardware.ir.npz   the IR as built: auto-folded (with a target) and FIFOs sized by simulation,
                      keyed by the IR and the hardware options; fifo_sizing.json says how
    verify.json       RTL vs golden co-simulation of the hardware IR
    gateware/         Verilog, bitstream, tool logs, keyed by the IR, hardware and board
    report.json/.md   the figures of the last run

A step whose key matches what is on disk is reused (and says so); otherwise it reruns. Every
file is written to a temporary name and renamed, every directory built beside its final place
and renamed, so an interrupted run leaves no half-written output; files get the user's umask.

Nothing is reused unchecked: each file carries a sha256 of its content (the checkpoint and the
IRs an entry of their own, the JSON summaries a ``digest`` field over the rest, build.json the
bitstream's too), so a file cut short, damaged or edited by hand is said to be damaged and made
again. Checkpoints are read with ``torch.load(weights_only=True)``: tensors and plain data
only, so a crafted pickle cannot run code. hwgen writes only under the output directory: shipped
results (``train.prebuilt``) and a pinned ``train.checkpoint`` are read, never written.
"""
import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import HwgenError, SpecError
from .spec import Spec

__all__ = ["Workspace"]


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


#: What generates, folds, simulates and builds the hardware: hwgen's modules and folders
#: (beside the shipped rtl_templates/ and sim/) whose sources key the hardware IR, the
#: verification and the bitstream, so that an edit to any of them, released or not, makes
#: them stale.
GENERATORS = ("hw", "ops", "lib", "passes", "board", "target", "cim", "golden", "ir", "estimate.py",
              "harness.py", "cosim.py", "verify.py", "toolchain.py")


def generator_digest() -> str:
    """Digest of the sources named by :data:`GENERATORS` and the shipped ``rtl_templates``
    and ``sim`` folders."""
    from .resources import data_dir
    package = Path(__file__).resolve().parent
    files = []
    for name in GENERATORS:
        path = package / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    for name in ("rtl_templates", "sim"):
        folder = data_dir(name)
        files += sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".pyc"
                        and "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_atomic(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~_umask())      # mkstemp's file is 0600: as open() would make it
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _problem(error: HwgenError, path: Path) -> str:
    """What is wrong with ``path``: ``error``'s message without the path it starts with."""
    message = str(error)
    return message[len(f"{path}: "):] if message.startswith(f"{path}: ") else message


def _summary_digest(summary: dict) -> str:
    return hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()


def _summary_json(summary: dict) -> bytes:
    """``summary`` as JSON with a ``digest`` field over the rest (see :func:`read_summary`)."""
    summary = json.loads(json.dumps(summary))        # as it reads back (tuples: lists)
    return json.dumps({**summary, "digest": _summary_digest(summary)}, indent=2).encode()


def read_summary(path: Path) -> dict:
    """A JSON summary written by :func:`_summary_json`, without its digest; HwgenError (one
    line naming the file) when it does not parse or its content no longer matches the digest
    (cut short, damaged or edited)."""
    try:
        saved = json.loads(path.read_bytes().decode())
    except (OSError, ValueError) as error:     # JSONDecodeError and UnicodeDecodeError
        raise HwgenError(f"{path}: not JSON ({' '.join(str(error).split())})") from None
    if not isinstance(saved, dict):
        raise HwgenError(f"{path}: not a JSON object")
    digest = saved.pop("digest", None)
    if digest is None:
        raise HwgenError(f"{path}: no digest (not written by this hwgen)")
    if digest != _summary_digest(saved):
        raise HwgenError(f"{path}: its content does not match its digest (damaged or edited)")
    return saved


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_digest(key: str, metrics: dict, state_dict) -> str:
    """sha256 over a checkpoint's key, metrics and tensors (names, dtypes, shapes, bytes)."""
    import torch
    digest = hashlib.sha256(json.dumps({"key": key, "metrics": metrics},
                                       sort_keys=True).encode())
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"\0{name}\0{tensor.dtype}\0{list(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(path: Path, key: str, metrics: dict, state_dict):
    """Write a checkpoint: tensors and plain data only, with :func:`checkpoint_digest`."""
    import io

    import torch
    buffer = io.BytesIO()
    metrics = {name: float(value) for name, value in metrics.items()}   # not numpy scalars
    torch.save({"key": key, "metrics": metrics, "state_dict": state_dict,
                "digest": checkpoint_digest(key, metrics, state_dict)}, buffer)
    _write_atomic(path, buffer.getvalue())


def _load_failure(error: Exception) -> str:
    """One line saying why ``torch.load`` refused a file."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if isinstance(error, pickle.UnpicklingError) and lines \
            and lines[0].startswith("Weights only load failed"):
        details = [line for line in lines[1:] if not line.startswith(("Please file", "Check the"))]
        detail = details[0].removeprefix("WeightsUnpickler error: ").rstrip(".") if details \
            else "objects of other types"
        return f"it holds what a weights-only load refuses ({detail})"
    first = lines[0].split(". ")[0] if lines else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def read_checkpoint(path: Path, *, digest_required: bool = True) -> dict:
    """The checkpoint ``path`` (``key``, ``metrics``, ``state_dict``), loaded with
    ``weights_only=True``: a file holding anything but tensors and plain data is refused
    before any of it runs. HwgenError (one line naming the file) when it is damaged, cut
    short, not a checkpoint, or its content does not match its digest (a file without one
    passes only where not ``digest_required``: a pinned ``train.checkpoint``)."""
    import torch
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:     # whatever a damaged or crafted file raises: one line
        raise HwgenError(f"{path}: not a usable checkpoint: {_load_failure(error)}") from None
    if not isinstance(saved, dict) or not {"key", "metrics", "state_dict"} <= set(saved) \
            or not set(saved) <= {"key", "metrics", "state_dict", "digest"}:
        raise HwgenError(f"{path}: not an hwgen checkpoint (a mapping of key, metrics, "
                         f"state_dict and digest)")
    key, metrics, state = saved["key"], saved["metrics"], saved["state_dict"]
    if not isinstance(key, str) or not isinstance(metrics, dict) \
            or not all(isinstance(value, (int, float)) for value in metrics.values()) \
            or not isinstance(state, dict) \
            or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise HwgenError(f"{path}: not an hwgen checkpoint (its key, metrics or tensors are of "
                         f"other types)")
    if "digest" in saved:
        if saved["digest"] != checkpoint_digest(key, metrics, state):
            raise HwgenError(f"{path}: its content does not match its digest (damaged or edited)")
    elif digest_required:
        raise HwgenError(f"{path}: no digest (not written by this hwgen)")
    return saved


def _keyed_checkpoint(path: Path) -> tuple[str, dict]:
    saved = read_checkpoint(path)
    return saved["key"], saved


def _keyed_ir(path: Path):
    from .ir import load_ir
    graph = load_ir(path)
    return graph.meta.get("key"), graph


@dataclass
class Workspace:
    """One spec's output directory and the steps that fill it."""
    spec: Spec
    root: Path
    say: object = print
    #: What this run reused instead of making (for the report).
    reused: list = dataclasses.field(default_factory=list)
    #: The checkpoint in use when it is a shipped one.
    _checkpoint: Path | None = None

    @classmethod
    def create(cls, spec: Spec, out=None, *, seed: int | None = None, say=print) -> "Workspace":
        """The workspace of ``spec`` in ``out`` (default ``build/<spec name>``); SpecError
        (naming ``--out``) when that is a file, or the spec's shipped ``train.prebuilt``
        folder, which hwgen only reads."""
        if seed is not None:
            spec = dataclasses.replace(spec, seed=seed)
        root = (Path(out) if out is not None else Path.cwd() / "build" / spec.name).resolve()
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

    # --- keys ----------------------------------------------------------------------------
    @property
    def train_key(self) -> str:
        spec = self.spec
        if spec.checkpoint_path is not None:
            return _digest({"checkpoint": str(spec.checkpoint_path)})
        model = dataclasses.asdict(spec.model)
        for layer in model["layers"]:        # folding does not change what is trained
            for key in ("pe", "simd", "ram_style"):
                layer.pop(key, None)
        train = dataclasses.asdict(spec.train)
        train.pop("prebuilt")                # where a result may be found, not what it is
        key = {"data": dataclasses.asdict(spec.data), "seed": spec.seed,
               "train": train, "model": model}
        if spec.cim is not None:             # the macro is trained through
            key["cim"] = dataclasses.asdict(spec.cim)
        return _digest(key)

    @property
    def ir_key(self) -> str:
        from .ir import IR_VERSION
        return _digest({"train": self.train_key, "ir_version": IR_VERSION,
                        "folding": [(getattr(l, "pe", None), getattr(l, "simd", None),
                                     getattr(l, "ram_style", None))
                                    for l in self.spec.model.layers]})

    @property
    def hardware_key(self) -> str:
        from . import __version__    # the generators' version and sources: new hardware
        hardware = dataclasses.asdict(self.spec.hardware)
        for key in ("placer", "seed"):      # the bitstream's alone (see build)
            hardware.pop(key)
        return _digest({"ir": self.ir_key, "hwgen": __version__,
                        "generators": generator_digest(), "hardware": hardware})

    # --- train -----------------------------------------------------------------------------
    @property
    def checkpoint_file(self) -> Path:
        """The checkpoint export reads: the spec's ``train.checkpoint`` if it pins one, else
        ``checkpoint.pt`` in the output folder (where training writes)."""
        return self.spec.checkpoint_path or self.root / "checkpoint.pt"

    def _damaged(self, path: Path, error: HwgenError):
        """Say that ``path`` cannot be reused (``error`` says why) and is made again."""
        from .ir import IRVersionError
        if isinstance(error, IRVersionError):
            self.say(f"{path} was written by another hwgen (another IR version): "
                     f"making it again")
        else:
            self.say(f"{path} damaged ({_problem(error, path)}): making it again")

    def _prebuilt(self, name: str, kind: str, key: str, read):
        """The spec's ``train.prebuilt`` file ``name`` read by ``read`` (which gives its key
        and content) if it was made for ``key``, as ``(path, content)``; says why when there is
        one but it is not used."""
        folder = self.spec.prebuilt_path
        if folder is None:
            return None
        path = folder / name
        if not path.exists():
            self.say(f"no shipped {kind} {path}: making it")
            return None
        try:
            saved_key, content = read(path)
        except HwgenError as error:
            self.say(f"shipped {kind} {path} damaged ({_problem(error, path)}): making it")
            return None
        if saved_key != key:
            self.say(f"shipped {kind} {path} was made from other settings: making it")
            return None
        return path, content

    def train(self, *, force: bool = False) -> dict:
        """Train (float reference and BNN) unless a matching checkpoint exists (in the output
        folder, or shipped in ``train.prebuilt``); returns metrics.

        A spec that pins ``train.checkpoint`` uses that file and never trains: ``force`` is
        refused (SpecError) rather than retraining into, or overwriting, the user's file.
        """
        pinned = self.spec.checkpoint_path
        if pinned is not None:
            if force:
                raise SpecError(self.spec.path, "train.checkpoint",
                                f"pins {pinned}, used instead of training; hwgen never writes "
                                f"it, so train --force has nothing to do: remove "
                                f"train.checkpoint to train into the output folder")
            if not pinned.exists():
                raise SpecError(self.spec.path, "train.checkpoint", f"no such file {pinned}")
            try:
                saved = read_checkpoint(pinned, digest_required=False)
            except HwgenError as error:
                raise SpecError(self.spec.path, "train.checkpoint",
                                f"{pinned} damaged ({_problem(error, pinned)})") from None
            self.say(f"reusing checkpoint {pinned}")
            self.reused.append(f"checkpoint {pinned}")
            return saved["metrics"]
        path = self.root / "checkpoint.pt"
        if path.exists() and not force:
            try:
                saved = read_checkpoint(path)
            except HwgenError as error:
                self._damaged(path, error)
                saved = None
            if saved is not None and saved["key"] == self.train_key:
                self.say(f"reusing checkpoint {path}")
                self.reused.append(f"checkpoint {path}")
                return saved["metrics"]
        shipped = None if force else self._prebuilt(
            "checkpoint.pt", "checkpoint", self.train_key,
            _keyed_checkpoint)
        if shipped is not None:
            self._checkpoint, saved = shipped
            self.say(f"reusing shipped checkpoint {self._checkpoint}")
            self.reused.append(f"shipped checkpoint {self._checkpoint}")
            return saved["metrics"]
        self._checkpoint = None
        from .data import load_dataset
        from .nn import train_model
        data = load_dataset(self.spec.data, self.spec.seed)
        self.say(f"training on {self.spec.data.dataset}: {len(data.train_x)} train, "
                 f"{len(data.test_x)} test frames, seed {self.spec.seed}")
        reference = train_model(self.spec, data, binary=False)
        result = train_model(self.spec, data)
        metrics = {"float_accuracy": reference.test_accuracy,
                   "bnn_accuracy": result.test_accuracy,
                   "bnn_train_accuracy": result.train_accuracy}
        self.say(f"test accuracy: float {metrics['float_accuracy']:.4f}, "
                 f"binarized {metrics['bnn_accuracy']:.4f}")
        save_checkpoint(path, self.train_key, metrics, result.model.state_dict())
        return metrics

    def load_model(self):
        from .nn import BNN
        path = self._checkpoint or self.checkpoint_file
        saved = read_checkpoint(path, digest_required=path != self.spec.checkpoint_path)
        model = BNN(self.spec)
        try:
            model.load_state_dict(saved["state_dict"])
        except RuntimeError as error:
            raise HwgenError(f"{path}: does not fit the spec's model "
                             f"({str(error).splitlines()[0]})") from None
        model.eval()
        return model, saved["metrics"]

    # --- export ----------------------------------------------------------------------------
    @property
    def ir_file(self) -> Path:
        return self.root / "model.ir.npz"

    def export(self, *, force: bool = False):
        """The IR, exported from the checkpoint unless a matching one exists."""
        from .ir import load_ir, save_ir
        if self.ir_file.exists() and not force:
            try:
                graph = load_ir(self.ir_file, digest_required=True)
            except HwgenError as error:     # damaged, edited, or an older IR version
                self._damaged(self.ir_file, error)
                graph = None
            if graph is not None and graph.meta.get("key") == self.ir_key:
                self.say(f"reusing IR {self.ir_file}")
                self.reused.append(f"IR {self.ir_file}")
                return graph
        shipped = None if force else self._prebuilt("model.ir.npz", "IR", self.ir_key, _keyed_ir)
        if shipped is not None:
            path, graph = shipped
            self.say(f"reusing shipped IR {path} (no data, training or export needed)")
            self.reused.append(f"shipped IR {path}")
            return graph
        self.train()
        model, metrics = self.load_model()
        from .data import load_dataset
        from .passes.lower import check_export, export_graph
        data = load_dataset(self.spec.data, self.spec.seed)
        names = {"class_names": list(data.class_names)} if data.class_names else {}
        if data.quantization:               # how a user's own features become input elements
            names["quantization"] = {key: value for key, value in data.quantization.items()
                                     if key != "root"}
        graph = export_graph(model, self.spec, data.test_x, data.test_y,
                             meta={"key": self.ir_key, **metrics, **names})
        check_export(model, graph)
        from .golden import run_graph
        accuracy = run_graph(graph).accuracy(graph.test_labels)   # with a macro's seeded noise
        graph = dataclasses.replace(graph, meta={**graph.meta, "golden_accuracy": accuracy})
        self.say(f"exported IR: {len(graph.layers)} layers, golden = model on "
                 f"{len(graph.test_frames)} test frames; golden accuracy {accuracy:.4f}")
        import io
        buffer = io.BytesIO()
        save_ir(graph, buffer)
        _write_atomic(self.ir_file, buffer.getvalue())
        return graph

    # --- dataflow: folding and FIFO sizing ----------------------------------------------------
    @property
    def hardware_ir_file(self) -> Path:
        return self.root / "hardware.ir.npz"

    def hardware(self, graph, *, clock_hz: float | None = None, force: bool = False):
        """The IR as built: auto-folded when the spec sets a target, FIFOs sized by simulation.

        ``clock_hz`` turns ``hardware.target_fps`` into cycles per frame (the board's clock).
        """
        from .ir import load_ir, save_ir
        hardware = self.spec.hardware
        target = self._target_cycles(clock_hz)
        key = _digest({"hw": self.hardware_key, "target_cycles": target})
        if self.hardware_ir_file.exists() and not force:
            try:
                saved = load_ir(self.hardware_ir_file, digest_required=True)
            except HwgenError as error:     # damaged, edited, or an older IR version
                self._damaged(self.hardware_ir_file, error)
                saved = None
            if saved is not None and saved.meta.get("hardware_key") == key:
                self.reused.append(f"hardware IR {self.hardware_ir_file}")
                self.say(f"reusing hardware IR {self.hardware_ir_file} "
                         f"(FIFO depths {list(saved.fifo_depths)})")
                return saved
        if target is not None:
            from .passes.fold import auto_fold
            graph = auto_fold(graph, target_cycles=target,
                              fixed=tuple(graph.meta.get("fixed_folding", ())))
            self.say(f"auto-folded for {target} cycles/frame: expected "
                     f"{graph.expected_cycles()} cycles/frame")
        if hardware.size_fifos:
            from .passes.fifo_sizing import size_fifos
            sizing = size_fifos(graph, build_root=self.root / "sim", seed=self.spec.seed,
                                progress=self.say)
            graph = sizing.graph
            summary = {"depths": list(sizing.depths), "peaks": list(sizing.peaks),
                       "seconds": sizing.seconds, "frames": sizing.frames,
                       "sim_cycles": sizing.sim_cycles,
                       "reference_cycles_per_frame": sizing.reference_cycles}
        else:
            from .hw.network import default_fifo_depths
            graph = graph.with_fifo_depths(default_fifo_depths(graph, hardware.fifo_depth))
            summary = {"depths": list(graph.fifo_depths), "seconds": 0.0, "rule": "fifo_depth"}
        graph = dataclasses.replace(graph, meta={**graph.meta, "hardware_key": key,
                                                 "fifo_sizing": summary})
        import io
        buffer = io.BytesIO()
        save_ir(graph, buffer)
        _write_atomic(self.hardware_ir_file, buffer.getvalue())
        return graph

    def _target_cycles(self, clock_hz: float | None) -> int | None:
        hardware = self.spec.hardware
        if hardware.target_cycles is not None:
            return hardware.target_cycles
        if hardware.target_fps is not None:
            from .passes.fold import target_from_fps
            if clock_hz is None:
                raise HwgenError("hardware.target_fps needs the board's clock")
            return target_from_fps(hardware.target_fps, clock_hz)
        return None

    # --- verify ----------------------------------------------------------------------------
    @property
    def verify_file(self) -> Path:
        return self.root / "verify.json"

    def verify(self, graph, *, frames: int | None = None, force: bool = False,
               trace: bool = False) -> dict:
        """Co-simulate; with ``trace`` (never reused) also write an FST waveform under sim/."""
        from .verify import verify_network
        frames = frames if frames is not None else self.spec.verify.frames
        key = _digest({"hw": graph.meta.get("hardware_key", self.hardware_key), "frames": frames})
        if self.verify_file.exists() and not force and not trace:
            try:
                saved = read_summary(self.verify_file)
            except HwgenError as error:
                self._damaged(self.verify_file, error)
                saved = {}
            if saved.get("key") == key:
                self.reused.append(f"verification {self.verify_file}")
                self.say(f"reusing verification {self.verify_file}")
                return saved
        result = verify_network(graph, fifo_depth=self.spec.hardware.fifo_depth, frames=frames,
                                build_root=self.root / "sim", seed=self.spec.seed, progress=self.say,
                                trace=self.root / "sim" if trace else None)
        summary = {"key": key, **result.to_dict()}
        if result.mismatches or result.label_mismatches or result.logit_mismatches \
                or not result.stress_passed:
            where = f"; {result.diagnosis}" if result.diagnosis else ""
            raise HwgenError(f"RTL differs from golden: {result.mismatches} of {result.frames} "
                             f"frames mismatch (stress run passed: {result.stress_passed})"
                             f"{where}; see {self.root / 'sim'}")
        if trace:
            self.say(f"waveform of the first frames: {result.trace}")
        self.say(f"RTL == golden on {result.frames} frames (class and logits); "
                 f"cycles/frame {result.measured_cycles:.2f} measured vs "
                 f"{result.expected_cycles} expected")
        _write_atomic(self.verify_file, _summary_json(summary))
        return summary

    # --- build -----------------------------------------------------------------------------
    def clocked(self, board):
        """``board`` with the spec's ``hardware.clock_mhz`` as its design clock, if it sets one;
        the spec's ``hardware.placer`` checked against the board's family."""
        if board is None:
            return board
        placers = board.target.placers
        if self.spec.hardware.placer not in placers:
            raise SpecError(self.spec.path, "hardware.placer",
                            f"{self.spec.hardware.placer!r} is no placer of the {board.name} "
                            f"board's family ({board.family})", allowed=", ".join(placers))
        clock = self.spec.hardware.clock_mhz
        if clock is None or clock == board.clock_mhz:
            return board
        from .board.board import BoardError
        try:
            return dataclasses.replace(board, clock_mhz=clock)
        except BoardError as error:          # the board's check: its PLL, its UART's baud rate
            if error.key == "clock_mhz":
                raise SpecError(self.spec.path, "hardware.clock_mhz", error.problem,
                                allowed=error.allowed) from None
            raise SpecError(self.spec.path, "hardware.clock_mhz",
                            f"the board's {error}") from None

    @property
    def gateware_dir(self) -> Path:
        return self.root / "gateware"

    def board_top(self, graph, board):
        """The board top :meth:`build` synthesizes: ``graph``'s network behind the UART, with
        the demo ROM of its first test frames."""
        from .board.protocol import network_id
        from .board.top import BoardTop
        from .golden import run_graph
        from .hw.network import Network
        network = Network(graph, fifo_depth=self.spec.hardware.fifo_depth)
        # The demo ROM holds the first test frames, up to the target's share of block RAM.
        frame_bits = graph.input_elements * graph.input_bits
        count = max(1, min(len(graph.test_frames), board.target.demo_rom_bits // frame_bits))
        words = network.input_words(graph.test_frames[:count])
        # The button's ROM pass checks the board against the golden model's classes (the
        # accuracy is hwgen run's to measure).
        expected = run_graph(graph, graph.test_frames[:count]).labels
        return BoardTop(network=network, words=words,
                        transfers_per_frame=network.transfers_per_frame,
                        labels=[int(label) for label in expected], board=board,
                        input_bits=graph.input_bits, network_id=network_id(graph))

    def build(self, graph, board, *, force: bool = False) -> dict:
        """Bitstream for ``board``; the summary says whether timing was met (see
        :meth:`check_timing`), so that a failing build still gets its report."""
        from .board.build import build_bitstream
        placer, seed = self.spec.hardware.placer, self.spec.hardware.seed
        key = _digest({"hw": graph.meta.get("hardware_key", self.hardware_key),
                       "board": dataclasses.asdict(board), "placer": placer, "seed": seed})
        summary_file = self.gateware_dir / "build.json"
        if summary_file.exists() and not force:
            saved = self._built(summary_file)
            if saved.get("key") == key:
                self.reused.append(f"bitstream {self.gateware_dir}")
                self.say(f"reusing bitstream {self.gateware_dir}")
                return saved
        top = self.board_top(graph, board)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".gateware."))
        try:
            os.chmod(staging, 0o777 & ~_umask())      # mkdtemp's folder is 0700
            report = build_bitstream(top, board, staging, name="top", placer=placer,
                                     seed=seed, progress=self.say)
            _write_macro_interfaces(graph, staging / "cim")
            bitstream = staging / "top.bit"
            summary = {"key": key, **report.to_dict(), "bitstream_sha256":
                       _file_digest(bitstream) if bitstream.is_file() else None}
            (staging / "build.json").write_bytes(_summary_json(summary))
            if self.gateware_dir.exists():
                shutil.rmtree(self.gateware_dir)
            os.replace(staging, self.gateware_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return summary

    def _built(self, summary_file: Path) -> dict:
        """The build summary ``summary_file`` if it and the bitstream it names are intact,
        else ``{}`` (and says which is damaged)."""
        try:
            saved = read_summary(summary_file)
        except HwgenError as error:
            self._damaged(summary_file, error)
            return {}
        bitstream = summary_file.parent / "top.bit"
        expected = saved.get("bitstream_sha256")
        if expected is not None:
            found = _file_digest(bitstream) if bitstream.is_file() else None
            if found != expected:
                problem = "missing" if found is None else \
                    "its content does not match build.json's digest"
                self.say(f"{bitstream} damaged ({problem}): making it again")
                return {}
        return saved

    def checked_bitstream(self) -> Path:
        """The built ``top.bit``, once it and ``build.json`` are checked against their digests
        (what ``hwgen program`` loads); HwgenError in one line when either is missing or
        damaged."""
        bitstream = self.gateware_dir / "top.bit"
        summary_file = self.gateware_dir / "build.json"
        if not bitstream.is_file():
            raise HwgenError(f"no bitstream at {bitstream}: run hwgen build first")
        try:
            expected = read_summary(summary_file).get("bitstream_sha256")
        except HwgenError as error:
            raise HwgenError(f"{error}: run hwgen build again") from None
        if expected != _file_digest(bitstream):
            raise HwgenError(f"{bitstream}: its content does not match build.json's digest "
                             f"(damaged or edited): run hwgen build again")
        return bitstream

    def check_timing(self, build: dict):
        """Raise :class:`HwgenError` unless the build met its requested clock."""
        if build.get("met_timing"):
            return
        fmax = build.get("fmax_mhz")
        achieved = "no Fmax reported" if fmax is None else f"Fmax {fmax:.1f} MHz"
        raise HwgenError(f"timing failed: {achieved} < requested {build.get('clock_mhz'):g} MHz "
                         f"(lower clock_mhz in the board file, or fold the slowest layer less); "
                         f"see {self.root / 'report.md'}")

    # --- report ----------------------------------------------------------------------------
    def write_report(self, graph, *, verification: dict | None = None, build: dict | None = None):
        depths = list(graph.fifo_depths) + [None] if graph.fifo_depths is not None \
            else [None] * len(graph.layers)
        from .estimate import estimate_layer
        from .golden import run_graph
        layers = [{**layer._meta(), "cycles_per_frame": layer.expected_cycles(), "fifo_depth": depth,
                   "estimate": dataclasses.asdict(estimate_layer(layer))}
                  for layer, depth in zip(graph.layers, depths)]
        sizing = graph.meta.get("fifo_sizing")
        golden = run_graph(graph)
        report = {"spec": self.spec.name, "seed": self.spec.seed,
                  "float_accuracy": graph.meta.get("float_accuracy"),
                  "bnn_accuracy": graph.meta.get("bnn_accuracy"),
                  "golden_accuracy": golden.accuracy(graph.test_labels),
                  "test_frames": len(graph.test_labels),
                  "expected_cycles_per_frame": graph.expected_cycles(),
                  "fifo_sizing_s": sizing.get("seconds") if sizing else None,
                  "layers": layers, "verification": verification, "build": build,
                  "reused": list(self.reused)}
        if build and build.get("fmax_mhz"):
            report["inferences_per_s_at_fmax"] = build["fmax_mhz"] * 1e6 / graph.expected_cycles()
        if any(layer.macro is not None for layer in graph.mvtus()):
            report["noise_sweep"] = noise_sweep(graph)
        report["plots"] = self._plots(graph, report, golden.labels)
        markdown = _markdown(report).encode()
        _write_atomic(self.root / "report.json", _summary_json(
            {**report, "markdown_sha256": hashlib.sha256(markdown).hexdigest()}))
        _write_atomic(self.root / "report.md", markdown)
        return report

    def read_report(self) -> str:
        """The Markdown report of the last run, checked against the digest report.json keeps
        of it; HwgenError (one line) when there is none or it is damaged."""
        path = self.root / "report.md"
        if not path.exists():
            raise HwgenError(f"no report in {self.root}: run hwgen build first")
        try:
            expected = read_summary(self.root / "report.json").get("markdown_sha256")
        except HwgenError as error:
            raise HwgenError(f"{path} cannot be checked: {error}; run hwgen sim or build to "
                             f"make it again") from None
        text = path.read_bytes()
        if hashlib.sha256(text).hexdigest() != expected:
            raise HwgenError(f"{path} damaged (its content does not match report.json's digest): "
                             f"run hwgen sim or build to make it again")
        return text.decode()

    def _plots(self, graph, report: dict, predicted) -> list[str]:
        """The report's figures under ``plots/``; their names relative to the output folder."""
        from . import plots
        folder = self.root / "plots"
        folder.mkdir(parents=True, exist_ok=True)
        verification = report.get("verification") or {}
        made = [plots.plot_cycles(report["layers"], folder / "cycles.png",
                                  measured=verification.get("measured_cycles")),
                plots.plot_resources(report["layers"], folder / "resources.png",
                                     total=report.get("build")),
                plots.plot_confusion(graph.test_labels, predicted, folder / "confusion.png",
                                     classes=class_names(graph),
                                     title="golden model (what the RTL computes, seeded noise on), test set")]
        sweep = report.get("noise_sweep")
        if sweep:
            made.append(plots.plot_noise_sweep(sweep["sigmas"], sweep["accuracies"],
                                               folder / "noise.png",
                                               trained_sigma=sweep["built_sigma"]))
        return [str(path.relative_to(self.root)) for path in made]


def class_names(graph) -> list[str]:
    """Names of the graph's classes: the dataset's, where the IR records them, else numbers."""
    names = graph.meta.get("class_names")
    if names and len(names) == graph.classes:
        return list(names)
    return [str(index) for index in range(graph.classes)]


#: Noise levels of the report's sweep, as multiples of the sigma a network was built for.
SWEEP_FACTORS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


def noise_sweep(graph, factors=SWEEP_FACTORS) -> dict:
    """Golden-model test accuracy of a cim network with every macro's sigma scaled by each
    factor (the same seeded noise generator as the RTL; factor 1 is the network as built)."""
    from .golden import run_graph
    layers = [layer for layer in graph.layers if getattr(layer, "macro", None) is not None]
    built = max(layer.macro.sigma for layer in layers)
    accuracies = []
    for factor in factors:
        scaled = dataclasses.replace(graph, layers=tuple(
            dataclasses.replace(layer, macro=dataclasses.replace(
                layer.macro, sigma=layer.macro.sigma * factor))
            if getattr(layer, "macro", None) is not None else layer for layer in graph.layers))
        accuracies.append(run_graph(scaled).accuracy(graph.test_labels))
    return {"sigmas": [built * factor for factor in factors], "accuracies": accuracies,
            "built_sigma": built, "factors": list(factors)}


def _shape(layer: dict) -> str:
    """A layer's shape in a report table."""
    if layer["op"] == "mvtu":
        pixels = f" x {layer['pixels']} px" if layer.get("pixels", 1) > 1 else ""
        return f"{layer['mw']} -> {layer['mh']}{pixels}"
    image = f"{layer['channels']}x{layer['height']}x{layer['width']}"
    kernel = "x".join(str(k) for k in layer["kernel"])
    return f"{image}, {kernel} kernel"


def _markdown(report: dict) -> str:
    lines = [f"# hwgen report: {report['spec']}", ""]
    for key in ("float_accuracy", "bnn_accuracy"):
        if report.get(key) is not None:
            lines.append(f"- {key.replace('_', ' ')}: {report[key]:.4f}")
    if report.get("golden_accuracy") is not None:
        lines.append(f"- golden model (the IR, as the RTL computes it) accuracy: "
                     f"{report['golden_accuracy']:.4f} on {report['test_frames']} test frames")
    lines.append(f"- expected cycles/frame: {report['expected_cycles_per_frame']}")
    if report.get("fifo_sizing_s") is not None:
        lines.append(f"- FIFO sizing: {report['fifo_sizing_s']:.1f} s")
    verification = report.get("verification")
    if verification:
        lines += [f"- RTL vs golden: {verification['mismatches']} mismatches on "
                  f"{verification['frames']} frames; RTL accuracy {verification['rtl_accuracy']:.4f}",
                  f"- measured cycles/frame: {verification['measured_cycles']:.2f} "
                  f"(ratio {verification['cycles_ratio']:.3f})"]
    build = report.get("build")
    if build:
        lines += [f"- resources: {build.get('luts')} LUT4, {build.get('ffs')} FF, "
                  f"{build.get('brams')} BRAM, {build.get('dsps')} DSP",
                  f"- Fmax {build.get('fmax_mhz', 0):.1f} MHz (requested {build.get('clock_mhz')} MHz)"]
    if report.get("inferences_per_s_at_fmax"):
        lines.append(f"- inferences/s at Fmax: {report['inferences_per_s_at_fmax']:.0f}")
    sweep = report.get("noise_sweep")
    if sweep:
        points = ", ".join(f"{sigma:g}: {accuracy:.4f}"
                           for sigma, accuracy in zip(sweep["sigmas"], sweep["accuracies"]))
        lines.append(f"- golden accuracy by macro noise sigma (built for "
                     f"{sweep['built_sigma']:g}): {points}")
    lines += ["", "| layer | op | shape | PE | SIMD | cycles/frame | FIFO after | "
                  "LUT4 | FF | BRAM | DSP |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for layer in report["layers"]:
        macro = layer.get("macro")
        op = layer["op"] if macro is None else (
            f"{layer['op']} on cim ({macro['wordlines']} WL, {macro['adc_bits']}-bit ADC, "
            f"{macro['noise']} noise sigma {macro['sigma']})")
        estimate = layer.get("estimate") or {}
        lines.append(f"| {layer['name']} | {op} | {_shape(layer)} | {layer.get('pe', '')} | "
                     f"{layer.get('simd', '')} | {layer['cycles_per_frame']} | "
                     f"{layer.get('fifo_depth') or ''} | {estimate.get('luts', '')} | "
                     f"{estimate.get('ffs', '')} | {estimate.get('brams', '')} | "
                     f"{estimate.get('dsps', '')} |")
    lines.append("")
    lines.append("Per-layer resources are hwgen.estimate's figures (the placed totals are above).")
    if report.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{Path(name).stem}]({name})" for name in report["plots"]]
    reused = report.get("reused")
    lines += ["", "## Reused", ""]
    lines += [f"- {item}" for item in reused] if reused else ["- nothing: every step ran"]
    return "\n".join(lines) + "\n"


def _write_macro_interfaces(graph, folder: Path):
    """The black-box Verilog of each cim layer's macro (``rtl_templates/cim_macro.sv.j2``):
    the modules a chip flow replaces with hard macros."""
    from .ops.mvtu.cim import render_macro
    for layer in graph.mvtus():
        if layer.macro is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{layer.name}_macro.sv").write_text(render_macro(layer))
