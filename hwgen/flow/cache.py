"""Reuse or make: how every step keeps its product.

A step's product (a file or a folder in the output directory) is saved with the key of what it
was made from. :func:`reuse_or_make` reuses it when it is intact (its content matches the
digest it carries) and was made for the key asked for; otherwise it makes it again, in a
staging path beside it that is renamed into place, so that an interrupted run leaves no
half-written product. What is written gets the user's umask. Every decision is said: what is
reused, what is damaged and made again, and why a shipped copy (``train.prebuilt``) is not
used; what is reused is listed for the report.

JSON summaries carry a ``digest`` field over the rest (:func:`summary_json`,
:func:`read_summary`); checkpoints and IR files carry theirs inside (:mod:`.checkpoint`,
:func:`hwgen.ir.save_ir`).
"""
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, TypeVar

from ..errors import HwgenError

__all__ = ["Product", "Outcome", "Unusable", "NotFound", "reuse_or_make", "key_digest",
           "write_atomic", "file_digest", "summary_json", "read_summary"]

T = TypeVar("T")


def key_digest(value) -> str:
    """A key: 16 hex digits of the sha256 of ``value`` as JSON (keys sorted, other types as
    ``str``)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def umask() -> int:
    """The process's umask (read without changing it for longer than the call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes):
    """Write ``data`` to ``path`` through a temporary file beside it, renamed into place, with
    the mode ``open`` would give it (the user's umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~umask())      # mkstemp's file is 0600: as open() would make it
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def file_digest(path: Path) -> str:
    """sha256 (hex) of the file ``path``'s content."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _summary_digest(summary: dict) -> str:
    return hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()


def summary_json(summary: dict) -> bytes:
    """``summary`` as JSON with a ``digest`` field over the rest (see :func:`read_summary`)."""
    summary = json.loads(json.dumps(summary))        # as it reads back (tuples: lists)
    return json.dumps({**summary, "digest": _summary_digest(summary)}, indent=2).encode()


def read_summary(path: Path) -> dict:
    """A JSON summary written by :func:`summary_json`, without its digest; HwgenError (one
    line naming the file) when it does not parse or its content no longer matches the digest
    (cut short, damaged or edited)."""
    try:
        saved = json.loads(Path(path).read_bytes().decode())
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


class Unusable(HwgenError):
    """A saved product (or a file of it) that cannot be reused.

    Parameters
    ----------
    path : Path
        The file at fault.
    why : str
        What is wrong, completing "``path`` ...": ``"damaged (cut short)"``.
    """

    def __init__(self, path: Path, why: str):
        self.path, self.why = Path(path), why
        super().__init__(f"{path} {why}")

    @classmethod
    def damaged(cls, error: HwgenError, path: Path) -> "Unusable":
        """``error`` (a reader's one line, which names ``path`` first) as ``path`` damaged."""
        if isinstance(error, Unusable):
            return error
        message = str(error)
        problem = message[len(f"{path}: "):] if message.startswith(f"{path}: ") else message
        return cls(path, f"damaged ({problem})")


class NotFound(HwgenError):
    """A product a run may only find (its step comes before ``--from``) is missing, damaged or
    made for other settings; the message says which step to run first."""


@dataclass(frozen=True)
class Product(Generic[T]):
    """What a step saves, and how it is read back."""
    #: What it is, as the messages name it ("IR", "hardware IR", "bitstream").
    label: str
    #: Where it is kept: a file, or a folder when ``folder``.
    path: Path
    #: ``read(path)``: its key and content; HwgenError when it cannot be used (an
    #: :class:`Unusable`, or an error whose message names ``path`` first: then it is damaged).
    read: Callable[[Path], tuple[str | None, T]]
    #: Whether it is a folder (made whole in a staging folder) rather than a file.
    folder: bool = False
    #: A shipped copy, read and never written, tried before making it (``train.prebuilt``).
    shipped: Path | None = None
    #: How the shipped copy is read (default: ``read``).
    read_shipped: Callable[[Path], tuple[str | None, T]] | None = None
    #: Said after "reusing <label> <path>" when it is reused: " (FIFO depths [2, 3])".
    detail: Callable[[T], str] | None = None
    #: Said after "reusing shipped <label> <path>".
    shipped_detail: str = ""

    def __post_init__(self):
        if not self.label:
            raise ValueError("a product needs a label")
        object.__setattr__(self, "path", Path(self.path))


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What :func:`reuse_or_make` gives: the product's content and where it lies."""
    value: T
    #: The product's path, or the shipped copy's when that was used.
    path: Path
    #: ``"reused"``, ``"shipped"`` or ``"made"``.
    how: str


def _check(path: Path, read, key: str | None) -> tuple[bool, object, Unusable | None]:
    """Whether ``path`` holds a product made for ``key``, its content if so, and what is
    wrong when it cannot be read (None when it is only made from other settings)."""
    try:
        saved_key, content = read(path)
    except HwgenError as error:
        return False, None, Unusable.damaged(error, path)
    return key is not None and saved_key == key, content, None


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _found(product: Product, key: str | None, say, reused: list, force: bool, making: bool):
    """The product (saved, else shipped) as an :class:`Outcome` if it is intact and made for
    ``key``; else None, having said (when ``making``) why a saved or shipped one is not used,
    and the reason as the second value (for :class:`NotFound`)."""
    note = say if making else (lambda message: None)
    if force:
        return None, "is to be made again (forced)"
    reason = "is missing"
    if _exists(product.path):
        usable, content, problem = _check(product.path, product.read, key)
        if usable:
            detail = product.detail(content) if product.detail is not None else ""
            say(f"reusing {product.label} {product.path}{detail}")
            reused.append(f"{product.label} {product.path}")
            return Outcome(content, product.path, "reused"), None
        if problem is not None:
            note(f"{problem}: making it again")
            reason = problem.why
        else:
            reason = "was made from other settings"
    shipped = product.shipped
    if shipped is not None:
        where = f"shipped {product.label} {shipped}"
        if not _exists(shipped):
            note(f"no {where}: making it")
        else:
            usable, content, problem = _check(shipped, product.read_shipped or product.read,
                                              key)
            if usable:
                say(f"reusing {where}{product.shipped_detail}")
                reused.append(where)
                return Outcome(content, shipped, "shipped"), None
            why = problem.why if problem is not None else "was made from other settings"
            note(f"{where} {why}: making it")
    return None, reason


def _staging(product: Product) -> Path:
    """A new, empty staging file or folder beside ``product``'s path, with the mode ``open``
    or ``mkdir`` would give it."""
    parent = product.path.parent
    parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{product.path.name}."
    if product.folder:
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
        os.chmod(staging, 0o777 & ~umask())          # mkdtemp's folder is 0700
    else:
        fd, name = tempfile.mkstemp(dir=parent, prefix=prefix)
        staging = Path(name)
        try:
            os.fchmod(fd, 0o666 & ~umask())          # mkstemp's file is 0600
        finally:
            os.close(fd)
    return staging


def _remove(path: Path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def reuse_or_make(product: Product[T], key: str | None, make: Callable[[Callable[[], Path]], T]
                  | None, *, say: Callable[[str], None], reused: list,
                  force: bool = False) -> Outcome[T]:
    """``product`` if it is saved intact and made for ``key`` (or shipped so), else made.

    Parameters
    ----------
    product : Product
        What is kept, where, and how it is read back.
    key : str or None
        What it must have been made from; None: nothing saved can be told apart, so it is made.
    make : callable or None
        ``make(stage)`` makes the product and returns its content. ``stage()`` gives the
        staging path, a new empty file or folder beside the product (its parent made on the
        first call, so that a make that fails early writes nothing); what ``make`` writes there
        is moved onto the product's path once it returns, replacing what was there. None: the
        product may only be found (:class:`NotFound` otherwise).
    say : callable
        Takes each message: "reusing IR ...", "... damaged (...): making it again".
    reused : list
        Gets "<label> <path>" for each product reused (the report lists them).
    force : bool
        Make it even if a saved or shipped one would do.

    Returns
    -------
    Outcome
        The content, where it lies and how it came.
    """
    found, reason = _found(product, key, say, reused, force, make is not None)
    if found is not None:
        return found
    if make is None:
        raise NotFound(f"{product.label} {product.path} {reason}")
    staged = []

    def stage() -> Path:
        if not staged:
            staged.append(_staging(product))
        return staged[0]
    try:
        value = make(stage)
        if not staged:
            raise RuntimeError(f"making {product.label} wrote nothing to its staging path")
        if _exists(product.path) and product.folder:
            _remove(product.path)
        os.replace(staged[0], product.path)
    except BaseException:
        if staged:
            _remove(staged[0])
        raise
    return Outcome(value, product.path, "made")
