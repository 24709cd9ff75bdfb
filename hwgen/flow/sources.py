"""What a step's product is made from: the source closure of the module that makes it.

A step's key hashes the source of every hwgen module its maker may run, found from the import
graph rather than from a list kept by hand: each module of the package is parsed with
:mod:`ast` (imports inside functions count as much as those at the top), and the ``hwgen.*``
imports are followed from the step's own module until nothing new is reached. The shipped data
folders those modules read (``data_dir("rtl_templates")``, ``data_dir("sim")``: found the same
way, from the calls in their source) are hashed with them. An edit to any module the maker can
reach, released or not, makes the product stale; an edit elsewhere (the UART host program,
the data loaders for a hardware step) leaves it alone.

What counts as imported: ``import hwgen.a.b`` and ``from hwgen.a import b`` reach module
``hwgen.a.b`` (a submodule's name, else the package ``hwgen.a`` itself, whose ``__init__``
then counts with its own imports); relative imports the same, from the importing module's
package. A package's ``__init__`` that only runs on the way to one of its submodules does not
count: it re-exports, and what it re-exports is reached where it is imported by name.
"""
import ast
import hashlib
from pathlib import Path

__all__ = ["module_closure", "source_files", "source_digest"]

#: The package the keys follow: the folder holding hwgen's modules.
PACKAGE = Path(__file__).resolve().parent.parent

#: The function whose calls name the shipped data folders a module reads.
_DATA_DIR = "data_dir"


def _module_file(name: str, package: Path) -> Path | None:
    """The file of module ``name`` (dotted, starting with the package's name) under
    ``package``, or None when there is no such module."""
    parts = name.split(".")
    if parts[0] != package.name:
        return None
    base = package.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py") if len(parts) > 1 else None,
                      base / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _scan(source: bytes, path: Path, name: str, package: Path) -> tuple[set[str], set[str]]:
    """The package's modules that module ``name`` (its ``source`` read from ``path``) imports
    anywhere, and the shipped data folders it reads: the names its ``data_dir(...)`` calls
    give (ValueError for one not written out: the key could not tell the folder)."""
    is_package = path.name == "__init__.py"
    modules, folders = set(), set()
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names
                        if _module_file(alias.name, package) is not None}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = name.split(".") if is_package else name.split(".")[:-1]
                if node.level > 1:
                    parts = parts[:-(node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if _module_file(base, package) is None:
                continue                        # outside the package
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                modules.add(submodule if alias.name != "*"
                            and _module_file(submodule, package) is not None else base)
        elif isinstance(node, ast.Call) and _DATA_DIR in (getattr(node.func, "id", None),
                                                          getattr(node.func, "attr", None)):
            if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) \
                    or not isinstance(node.args[0].value, str):
                raise ValueError(f"{path}:{node.lineno}: {_DATA_DIR}() called without a folder "
                                 f"name written out, so a step's key cannot tell what it reads")
            folders.add(node.args[0].value)
    return modules, folders


#: What :func:`_scan` found, by module name, package and the source's sha256 (a module is
#: parsed again only when its source changes).
_SCANNED: dict[tuple[str, Path, str], tuple[set[str], set[str]]] = {}


def _walk(roots, package: Path) -> tuple[dict[str, Path], set[str]]:
    """The modules reachable from ``roots`` (name to file) and the data folders they read."""
    modules, folders = {}, set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in modules:
            continue
        path = _module_file(name, package)
        if path is None:
            raise ValueError(f"no module {name!r} in {package}")
        modules[name] = path
        source = path.read_bytes()
        key = (name, package, hashlib.sha256(source).hexdigest())
        if key not in _SCANNED:
            _SCANNED[key] = _scan(source, path, name, package)
        imported, read = _SCANNED[key]
        folders |= read
        pending += sorted(imported - set(modules))
    return modules, folders


def module_closure(roots, package: Path = PACKAGE) -> dict[str, Path]:
    """The modules of ``package`` that the modules ``roots`` (dotted names) import,
    transitively, with ``roots`` themselves: module name to file."""
    return dict(sorted(_walk(roots, Path(package))[0].items()))


def _sources(roots, package: Path, locate) -> list[tuple[str, Path]]:
    """:func:`source_files` with each file's name: relative to the package's parent for a
    module, to the data folder's parent for data."""
    package = Path(package)
    modules, folders = _walk(roots, package)
    if locate is None:
        from ..resources import data_dir as locate
    named = sorted((path.relative_to(package.parent).as_posix(), path)
                   for path in modules.values())
    for name in sorted(folders):
        folder = locate(name)
        named += sorted((path.relative_to(folder.parent).as_posix(), path)
                        for path in folder.rglob("*")
                        if path.is_file() and path.suffix != ".pyc"
                        and "__pycache__" not in path.parts)
    return named


def source_files(roots, package: Path = PACKAGE, *, locate=None) -> list[Path]:
    """The files whose content shapes what the modules ``roots`` make: the closure's sources,
    then every file in the data folders it reads (located by ``locate``, default
    :func:`hwgen.resources.data_dir`), bytecode caches left out."""
    return [path for _, path in _sources(roots, package, locate)]


def source_digest(roots, package: Path = PACKAGE, *, locate=None) -> str:
    """sha256 (16 hex digits) over :func:`source_files`: each file's name (relative to the
    package's parent, or the data folder's) and content."""
    digest = hashlib.sha256()
    for name, path in _sources(roots, package, locate):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
