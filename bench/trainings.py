"""What the research benches share: trainings run in parallel processes, each result kept on
disk keyed by its inputs and by the code that makes it (a rerun, or an interrupted run, makes
only what is missing), and a network's golden-model accuracy on a noisier or quieter macro.

Not a bench itself; ``bench/robustness.py`` and ``bench/imcq.py`` import it.
"""
import ast
import hashlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

#: The packages whose sources train, export and measure a network.
SOURCES = ("nn", "cim", "golden", "ops/mvtu", "passes")


def say(message: str) -> None:
    """Progress, on stderr (the figures go to stdout)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def sources_digest() -> str:
    """A digest of the code that trains and measures (a kept result is reused only while it is
    unchanged): each module's syntax tree without docstrings, so that comments and docs do not
    count."""
    digest = hashlib.sha256()
    for folder in SOURCES:
        for path in sorted((REPO / "hwgen" / folder).glob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                body = getattr(node, "body", None)
                if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                        and isinstance(body[0].value, ast.Constant) \
                        and isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
            digest.update(f"{path.relative_to(REPO)}\n{ast.dump(tree)}\n".encode())
    return digest.hexdigest()[:16]


def keep(path: Path, inputs: list, make) -> dict:
    """``make()``'s result (a JSON-able dict), kept in ``path`` under a key of ``inputs`` and
    :func:`sources_digest`: read back while both are unchanged (``"kept": True``)."""
    key = hashlib.sha256(json.dumps([*inputs, sources_digest()], sort_keys=True)
                         .encode()).hexdigest()[:16]
    if path.exists():
        kept = json.loads(path.read_text())
        if kept.get("key") == key:
            return {**kept, "kept": True}
    start = time.time()
    result = {**make(), "key": key, "seconds": time.time() - start}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    return result


def run_all(function, jobs: list[tuple], workers: int, describe) -> list:
    """``function(*job)`` for every job, ``workers`` processes at a time; progress (with
    ``describe(result)``) and an estimate of the time left on stderr as each ends."""
    start, results = time.time(), []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(function, *job) for job in jobs]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            left = len(jobs) - len(results)
            made = [r for r in results if not r.get("kept")]
            # Made results so far, ``workers`` at a time: the rest at the same pace.
            eta = (time.time() - start) / len(made) * left / workers if made and left else 0
            say(f"{len(results)}/{len(jobs)} {describe(result)}"
                + (" (kept)" if result.get("kept") else f" in {result['seconds']:.0f} s")
                + (f"; about {eta / 60:.0f} min left" if eta else ""))
    return results


def noisy_accuracy(graph, sigmas, repeats: int, inputs: list | None = None) -> dict:
    """The golden model's test accuracy of ``graph`` with its macros at each cell noise sigma
    (the hashed noise the RTL draws; ``repeats`` noise seeds averaged, one at sigma 0): the
    layers before the first cim layer run once, or not at all where ``inputs`` (each layer's
    clean input, as a caller already has them) is given."""
    import torch
    from hwgen.golden.network import run_layer
    from hwgen.passes.lower import with_noise
    layers = list(graph.layers)
    first = min(i for i, layer in enumerate(layers) if getattr(layer, "macro", None) is not None)
    if inputs is not None:
        x = inputs[first]
    else:
        x = torch.as_tensor(graph.test_frames.astype(np.int64))
        for layer in layers[:first]:
            x = run_layer(layer, x)
    labels = np.asarray(graph.test_labels)

    def accuracy(noisy) -> float:
        y = x
        for layer in noisy.layers[first:]:
            y = run_layer(layer, y)
        return float(np.mean(np.argmax(y.numpy(), axis=1) == labels))

    return {f"{sigma:g}": float(np.mean([accuracy(with_noise(graph, sigma, 1 + r))
                                         for r in range(1 if sigma == 0 else repeats)]))
            for sigma in sigmas}
