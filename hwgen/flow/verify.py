"""The verify step: the generated RTL co-simulated on Verilator against the golden model
(``verify.json``): class and logits bit for bit, at full rate and under stress, and the
measured cycles per frame.

Its key is the hardware IR's, the frames simulated and the sources of every module this one
can reach (:mod:`.sources`).
"""
from ..errors import HwgenError
from ..target import DEFAULT_TARGET, Target
from .cache import Product, key_digest, read_summary, summary_json
from .sources import source_digest

__all__ = ["verification_key", "verify"]


def verification_key(workspace, graph, frames: int | None,
                     target: Target = DEFAULT_TARGET) -> str:
    """The key of ``graph``'s co-simulation on ``frames`` test frames (None: the spec's),
    its blocks built for ``target``."""
    return key_digest({"hw": graph.meta.get("hardware_key", workspace.hardware_key),
                       "frames": frames, "family": target.family,
                       "sources": source_digest([__name__])})


def _keyed_summary(path):
    saved = read_summary(path)
    return saved.get("key"), saved


def verify(workspace, graph, *, frames: int | None = None, force: bool = False,
           trace: bool = False, target: Target = DEFAULT_TARGET) -> dict:
    """Co-simulate ``graph``, its blocks built for ``target`` (the board's FPGA family);
    HwgenError (with where the RTL first differs) on a mismatch. With ``trace`` (never
    reused) also write an FST waveform under ``sim/``."""
    spec = workspace.spec
    frames = frames if frames is not None else spec.verify.frames
    key = verification_key(workspace, graph, frames, target)
    root = workspace.root

    def make(stage):
        from ..verify import verify_network
        result = verify_network(graph, fifo_depth=spec.hardware.fifo_depth, frames=frames,
                                build_root=root / "sim", seed=spec.seed,
                                progress=workspace.say, trace=root / "sim" if trace else None,
                                target=target)
        if result.mismatches or result.label_mismatches or result.logit_mismatches \
                or not result.stress_passed:
            where = f"; {result.diagnosis}" if result.diagnosis else ""
            raise HwgenError(f"RTL differs from golden: {result.mismatches} of {result.frames} "
                             f"frames mismatch (stress run passed: {result.stress_passed})"
                             f"{where}; see {root / 'sim'}")
        if trace:
            workspace.say(f"waveform of the first frames: {result.trace}")
        workspace.say(f"RTL == golden on {result.frames} frames (class and logits); "
                      f"cycles/frame {result.measured_cycles:.2f} measured vs "
                      f"{result.expected_cycles} expected")
        summary = {"key": key, **result.to_dict()}
        stage().write_bytes(summary_json(summary))
        return summary

    product = Product("verification", workspace.verify_file, _keyed_summary)
    return workspace.keep("verify", product, key, make, force=force or trace).value
