"""The package's declared layers hold (import-linter, contracts in pyproject.toml): a change
that imports upward or in a circle fails here."""
import shutil
import subprocess
import sys

from tests.conftest import REPO

_LINT = ("import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")


def _lint(root) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _LINT], cwd=root, capture_output=True,
                          text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_layers_hold():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_an_upward_import_breaks_a_layer(tmp_path):
    shutil.copytree(REPO / "hwgen", tmp_path / "hwgen",
                    ignore=shutil.ignore_patterns("__pycache__", "_data"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    base = tmp_path / "hwgen" / "ops" / "base.py"
    base.write_text(base.read_text() + "\nfrom ..flow import Workspace  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode == 1
    assert "hwgen.ops is not allowed to import hwgen.flow" in result.stdout
