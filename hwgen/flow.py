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
and renamed, so an interrupted run leaves no half-written output.
"""
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import HwgenError, SpecError
from .spec import Spec

__all__ = ["Workspace", "ROM_BITS"]

#: Bits of test frames the board top's demo ROM holds at most (14 ECP5 block RAMs).
ROM_BITS = 256 * 1024


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


#: What generates, folds, simulates and builds the hardware: hwgen's modules and folders
#: (beside the shipped rtl_templates/ and sim/) whose sources key the hardware IR, the
#: verification and the bitstream, so that an edit to any of them, released or not, makes
#: them stale.
GENERATORS = ("hw", "fpga", "cim", "golden", "ir", "estimate.py", "fifo_sizing.py",
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


def _write_atomic(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


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
        if seed is not None:
            spec = dataclasses.replace(spec, seed=seed)
        root = Path(out) if out is not None else Path.cwd() / "build" / spec.name
        return cls(spec=spec, root=root.resolve(), say=say)

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
        return self.spec.checkpoint_path or self.root / "checkpoint.pt"

    def _prebuilt(self, name: str, kind: str, key: str, read_key) -> Path | None:
        """The spec's ``train.prebuilt`` file ``name`` if it was made for ``key`` (``read_key``
        gives a file's key); says why when there is one but it is not used."""
        folder = self.spec.prebuilt_path
        if folder is None:
            return None
        path = folder / name
        if not path.exists():
            self.say(f"no shipped {kind} {path}: making it")
            return None
        try:
            saved_key = read_key(path)
        except (HwgenError, OSError, KeyError, ValueError, RuntimeError) as error:
            self.say(f"shipped {kind} {path} unreadable ({error}): making it")
            return None
        if saved_key != key:
            self.say(f"shipped {kind} {path} was made from other settings: making it")
            return None
        return path

    def train(self, *, force: bool = False) -> dict:
        """Train (float reference and BNN) unless a matching checkpoint exists (in the output
        folder, or shipped in ``train.prebuilt``); returns metrics."""
        import torch
        path = self.checkpoint_file
        if self.spec.checkpoint_path is not None and not path.exists():
            raise HwgenError(f"{self.spec.path}: train.checkpoint: no such file {path}")
        if path.exists() and not force:
            saved = torch.load(path, map_location="cpu", weights_only=False)
            if self.spec.checkpoint_path is not None or saved.get("key") == self.train_key:
                self.say(f"reusing checkpoint {path}")
                self.reused.append(f"checkpoint {path}")
                return saved["metrics"]
        shipped = None if force else self._prebuilt(
            "checkpoint.pt", "checkpoint", self.train_key,
            lambda p: torch.load(p, map_location="cpu", weights_only=False)["key"])
        if shipped is not None:
            self._checkpoint = shipped
            self.say(f"reusing shipped checkpoint {shipped}")
            self.reused.append(f"shipped checkpoint {shipped}")
            return torch.load(shipped, map_location="cpu", weights_only=False)["metrics"]
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
        import io
        buffer = io.BytesIO()
        torch.save({"key": self.train_key, "metrics": metrics,
                    "state_dict": result.model.state_dict()}, buffer)
        _write_atomic(path, buffer.getvalue())
        return metrics

    def load_model(self):
        import torch
        from .nn import BNN
        path = self._checkpoint or self.checkpoint_file
        saved = torch.load(path, map_location="cpu", weights_only=False)
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
                graph = load_ir(self.ir_file)
            except HwgenError as error:     # an older IR version, or a damaged file
                self.say(f"exporting again: {error}")
                graph = None
            if graph is not None and graph.meta.get("key") == self.ir_key:
                self.say(f"reusing IR {self.ir_file}")
                self.reused.append(f"IR {self.ir_file}")
                return graph
        shipped = None if force else self._prebuilt(
            "model.ir.npz", "IR", self.ir_key, lambda p: load_ir(p).meta.get("key"))
        if shipped is not None:
            self.say(f"reusing shipped IR {shipped} (no data, training or export needed)")
            self.reused.append(f"shipped IR {shipped}")
            return load_ir(shipped)
        self.train()
        model, metrics = self.load_model()
        from .data import load_dataset
        from .ir.export import check_export, export_graph
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
                saved = load_ir(self.hardware_ir_file)
            except HwgenError as error:
                self.say(f"sizing again: {error}")
                saved = None
            if saved is not None and saved.meta.get("hardware_key") == key:
                self.reused.append(f"hardware IR {self.hardware_ir_file}")
                self.say(f"reusing hardware IR {self.hardware_ir_file} "
                         f"(FIFO depths {list(saved.fifo_depths)})")
                return saved
        if target is not None:
            from .ir.folding import auto_fold
            graph = auto_fold(graph, target_cycles=target,
                              fixed=tuple(graph.meta.get("fixed_folding", ())))
            self.say(f"auto-folded for {target} cycles/frame: expected "
                     f"{graph.expected_cycles()} cycles/frame")
        if hardware.size_fifos:
            from .fifo_sizing import size_fifos
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
            from .ir.folding import target_from_fps
            if clock_hz is None:
                raise HwgenError("hardware.target_fps needs the board's clock")
            return target_from_fps(hardware.target_fps, clock_hz)
        return None

    # --- verify ----------------------------------------------------------------------------
    @property
    def verify_file(self) -> Path:
        return self.root / "verify.json"

    def verify(self, graph, *, frames: int | None = None, force: bool = False) -> dict:
        from .verify import verify_network
        frames = frames if frames is not None else self.spec.verify.frames
        key = _digest({"hw": graph.meta.get("hardware_key", self.hardware_key), "frames": frames})
        if self.verify_file.exists() and not force:
            saved = json.loads(self.verify_file.read_text())
            if saved.get("key") == key:
                self.reused.append(f"verification {self.verify_file}")
                self.say(f"reusing verification {self.verify_file}")
                return saved
        result = verify_network(graph, fifo_depth=self.spec.hardware.fifo_depth, frames=frames,
                                build_root=self.root / "sim", seed=self.spec.seed, progress=self.say)
        summary = {"key": key, **result.to_dict()}
        if result.mismatches or result.label_mismatches or result.logit_mismatches \
                or not result.stress_passed:
            raise HwgenError(f"RTL differs from golden: {result.mismatches} of {result.frames} "
                             f"frames mismatch (stress run passed: {result.stress_passed}); "
                             f"see {self.root / 'sim'}")
        self.say(f"RTL == golden on {result.frames} frames (class and logits); "
                 f"cycles/frame {result.measured_cycles:.2f} measured vs "
                 f"{result.expected_cycles} expected")
        _write_atomic(self.verify_file, json.dumps(summary, indent=2).encode())
        return summary

    # --- build -----------------------------------------------------------------------------
    def clocked(self, board):
        """``board`` with the spec's ``hardware.clock_mhz`` as its design clock, if it sets one."""
        clock = self.spec.hardware.clock_mhz
        if board is None or clock is None or clock == board.clock_mhz:
            return board
        if clock != board.oscillator_mhz:
            from .fpga.pll import pll_params
            try:
                pll_params(board.oscillator_mhz, clock)
            except ValueError as error:
                raise SpecError(self.spec.path, "hardware.clock_mhz", str(error)) from None
        try:
            return dataclasses.replace(board, clock_mhz=clock)
        except ValueError as error:          # e.g. the board's UART baud at this clock
            raise SpecError(self.spec.path, "hardware.clock_mhz", str(error)) from None

    @property
    def gateware_dir(self) -> Path:
        return self.root / "gateware"

    def build(self, graph, board, *, force: bool = False) -> dict:
        """Bitstream for ``board``; the summary says whether timing was met (see
        :meth:`check_timing`), so that a failing build still gets its report."""
        from .fpga.flow import build_bitstream
        from .fpga.protocol import network_id
        from .fpga.top import BoardTop
        from .golden import run_graph
        from .hw.network import Network
        placer, seed = self.spec.hardware.placer, self.spec.hardware.seed
        key = _digest({"hw": graph.meta.get("hardware_key", self.hardware_key),
                       "board": dataclasses.asdict(board), "placer": placer, "seed": seed})
        summary_file = self.gateware_dir / "build.json"
        if summary_file.exists() and not force:
            saved = json.loads(summary_file.read_text())
            if saved.get("key") == key:
                self.reused.append(f"bitstream {self.gateware_dir}")
                self.say(f"reusing bitstream {self.gateware_dir}")
                return saved
        network = Network(graph, fifo_depth=self.spec.hardware.fifo_depth)
        # The demo ROM holds the first test frames, up to ROM_BITS (a fraction of the BRAM).
        frame_bits = graph.input_elements * graph.input_bits
        count = max(1, min(len(graph.test_frames), ROM_BITS // frame_bits))
        words = network.input_words(graph.test_frames[:count])
        # The button's ROM pass checks the board against the golden model's classes (the
        # accuracy is hwgen run's to measure).
        expected = run_graph(graph, graph.test_frames[:count]).labels
        top = BoardTop(network=network, words=words, transfers_per_frame=network.transfers_per_frame,
                       labels=[int(label) for label in expected], board=board,
                       input_bits=graph.input_bits, network_id=network_id(graph))
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".gateware."))
        try:
            report = build_bitstream(top, board, staging, name="top", placer=placer,
                                     seed=seed, progress=self.say)
            _write_macro_interfaces(graph, staging / "cim")
            summary = {"key": key, **report.to_dict()}
            (staging / "build.json").write_text(json.dumps(summary, indent=2))
            if self.gateware_dir.exists():
                shutil.rmtree(self.gateware_dir)
            os.replace(staging, self.gateware_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return summary

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
        _write_atomic(self.root / "report.json", json.dumps(report, indent=2).encode())
        _write_atomic(self.root / "report.md", _markdown(report).encode())
        return report

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
    from .hw.cim import render_macro
    for layer in graph.mvtus():
        if layer.macro is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{layer.name}_macro.sv").write_text(render_macro(layer))
