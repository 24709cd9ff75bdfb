"""Cache keys from the source closure (hwgen.flow.sources): a step's key hashes every module its
maker can reach through the import graph (function-level imports too) and the data folders they
read, with no list kept by hand. Proven on a toy package, then on a copy of hwgen itself: an
edit to a generator that only a chain of imports reaches changes the bitstream key; an edit to
the UART host program or a data loader does not."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hwgen.flow.sources import module_closure, source_digest, source_files

REPO = Path(__file__).resolve().parents[2]

TOY = {
    "__init__.py": "from .other import helper\n",
    "step.py": "def make():\n    from .gen import Top\n    return Top()\n",
    "gen/__init__.py": "from .top import Top\n",
    "gen/top.py": ("class Top:\n    def build(self):\n        import toy.leaf\n"
                   "        from ..resources import data_dir\n"
                   "        return data_dir('templates')\n"),
    "gen/unused.py": "X = 1\n",
    "leaf.py": "from . import deep\nfrom .deep import *\n",
    "deep.py": "Y = 2\n",
    "other.py": "import json\n\ndef helper():\n    return json\n",
    "resources.py": "def data_dir(name):\n    return name\n",
    "plain.py": "from .gen import top\n",
}


@pytest.fixture
def toy(tmp_path):
    package = tmp_path / "toy"
    for name, text in TOY.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "a.txt").write_text("template\n")
    return package


def _digest(package):
    return source_digest(["toy.step"], package, locate=lambda name: package.parent / name)


def test_closure_follows_function_level_relative_and_absolute_imports(toy):
    assert list(module_closure(["toy.step"], toy)) == [
        "toy.deep", "toy.gen", "toy.gen.top", "toy.leaf", "toy.resources", "toy.step"]
    # A submodule imported by name does not bring its package's __init__ (nor what it imports).
    assert list(module_closure(["toy.plain"], toy)) == [
        "toy.deep", "toy.gen.top", "toy.leaf", "toy.plain", "toy.resources"]
    files = source_files(["toy.step"], toy, locate=lambda name: toy.parent / name)
    assert files[-1] == toy.parent / "templates" / "a.txt"        # the data folder it reads


@pytest.mark.parametrize("edited, changes", [
    ("deep.py", True),               # reached only through gen -> top -> (in a function) leaf
    ("gen/__init__.py", True),
    ("../templates/a.txt", True),    # the data folder a reached module reads
    ("other.py", False),             # imported by the package's __init__ only
    ("gen/unused.py", False),
    ("plain.py", False),
])
def test_an_edit_changes_the_key_only_inside_the_closure(toy, edited, changes):
    before = _digest(toy)
    assert _digest(toy) == before                                     # deterministic
    with open(toy / edited, "a") as file:
        file.write("# edited\n")
    assert (_digest(toy) != before) == changes


def test_a_data_folder_not_named_in_the_source_is_refused(toy):
    (toy / "gen" / "top.py").write_text("def f(name):\n    from ..resources import data_dir\n"
                                        "    return data_dir(name)\n")
    with pytest.raises(ValueError, match=r"top\.py:3: data_dir\(\) called without a folder name"):
        _digest(toy)


def test_the_steps_closures_in_hwgen():
    """What keys hwgen's hardware and bitstream: the generators, found from the steps' own
    modules; neither the host program nor the data loaders nor training."""
    for step in ("hwgen.flow.hardware", "hwgen.flow.verify", "hwgen.flow.build"):
        closure = module_closure([step])
        assert {"hwgen.hw.network", "hwgen.ops.mvtu.hw", "hwgen.lib.popcount", "hwgen.ir",
                "hwgen.golden.network"} <= set(closure), step
        assert not {"hwgen.board.host", "hwgen.data", "hwgen.data.speech", "hwgen.nn",
                    "hwgen.flow.train", "hwgen.cli"} & set(closure), step
    assert {"hwgen.board.top", "hwgen.board.build"} <= set(module_closure(["hwgen.flow.build"]))
    assert {"hwgen.passes.fifo_sizing", "hwgen.passes.fold"} <= set(
        module_closure(["hwgen.flow.hardware"]))
    names = {path.name for path in source_files(["hwgen.flow.build"])}
    assert {"cim_macro.sv.j2", "stream.py"} & names == {"cim_macro.sv.j2"}   # rtl_templates/


KEYS = """
import json, sys, types
import hwgen
from hwgen.flow import Workspace
from hwgen.flow.build import bitstream_key
from hwgen.flow.verify import verification_key
from hwgen.board.board import load_board
from hwgen.spec import load_spec
workspace = Workspace.create(load_spec(sys.argv[1]), sys.argv[2], say=lambda message: None)
graph = types.SimpleNamespace(meta={})      # the keys read its hardware key, here the spec's
print(json.dumps({"package": hwgen.__file__, "train": workspace.train_key,
                  "ir": workspace.ir_key, "hardware": workspace.hardware_key,
                  "verification": verification_key(workspace, graph, None),
                  "bitstream": bitstream_key(workspace, graph, load_board("ulx3s"))}))
"""


def _keys(tree: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run([sys.executable, "-c", KEYS, str(REPO / "examples" / "digits_cnn.yaml"),
                             str(tree / "out")], env=env, cwd=tree, capture_output=True,
                            text=True, check=True)
    keys = json.loads(result.stdout)
    assert keys.pop("package") == str(tree / "hwgen" / "__init__.py")    # the copy's hwgen
    return keys


def _edit(path: Path):
    with open(path, "a") as file:
        file.write("\n# edited\n")


def test_an_edited_generator_in_a_copy_changes_the_bitstream_key(tmp_path):
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("hwgen", "rtl_templates", "sim", "boards"):
        shutil.copytree(REPO / name, tree / name, ignore=ignore)
    keys = _keys(tree)
    # lib/popcount.py: no step imports it; build -> hw.network -> ops -> ops.mvtu.hw ->
    # lib.popcount does.
    _edit(tree / "hwgen" / "lib" / "popcount.py")
    edited = _keys(tree)
    for name in ("hardware", "verification", "bitstream"):
        assert edited[name] != keys[name], name
    assert (edited["train"], edited["ir"]) == (keys["train"], keys["ir"])
    # The UART host program and a data loader shape none of them.
    _edit(tree / "hwgen" / "board" / "host.py")
    _edit(tree / "hwgen" / "data" / "speech.py")
    assert _keys(tree) == edited
    # The board top alone: the bitstream is made again, the sized FIFOs and verification kept.
    _edit(tree / "hwgen" / "board" / "top.py")
    top = _keys(tree)
    assert top["bitstream"] != edited["bitstream"]
    assert {k: v for k, v in top.items() if k != "bitstream"} == \
        {k: v for k, v in edited.items() if k != "bitstream"}
    # A template the generators render.
    _edit(tree / "rtl_templates" / "cim_macro.sv.j2")
    assert _keys(tree)["bitstream"] != top["bitstream"]
