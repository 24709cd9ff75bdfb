"""FPGA boards: what hwgen needs to know about one, read from ``boards/<name>.yaml``.

A board file names its FPGA family (``family: ecp5``, a :mod:`hwgen.target`), the Amaranth
platform class (from amaranth-boards), the device variants it comes in, the oscillator and the
design clock, and the resource names of the LEDs, button and UART that the board tops in
:mod:`hwgen.board.top` drive, the UART's default baud rate and the programmer's name for the
board. All pins come from the platform class; a board file never lists pins.

A :class:`Board` checks itself, once, whoever makes it (:func:`load_board` from a file, or
``dataclasses.replace`` with another clock): the clock against its family's PLL, the UART's
baud rate at that clock, and the LEDs, button and UART against the resources the platform has.
A bad value is a :class:`BoardError` naming the key; :func:`load_board` reports it as a
:class:`~hwgen.errors.SpecError` naming the file too.

The platform is one of amaranth-boards' platform classes (:func:`platform_modules`): a board
file cannot make hwgen import any other module. A file that is no board file is refused
without quoting it (a ``--board`` may name any readable file).
"""
import functools
import importlib
import pkgutil
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import FieldError, SpecError
from ..resources import data_dir
from ..spec.typed_yaml import excerpt, is_file, key_text, read_yaml
from ..target import TARGETS, Target, target
from .uart import uart_divisor

__all__ = ["Board", "BoardError", "load_board", "available_boards", "platform_modules"]


class BoardError(FieldError):
    """A bad value of a board: ``key`` names it, ``problem`` says what is wrong and
    ``allowed`` (or None) what would do."""


# Fields of a Board other than ``variants`` and ``device`` (a board file's ``variants`` mapping
# gives both): the Python types each accepts, and what to say when it is wrong.
_FIELDS = {
    "name": (str, "a string"),
    "description": (str, "a string"),
    "family": (str, "a string"),
    "platform": (str, "a string 'module:Class'"),
    "variant": (str, "a string"),
    "package": (str, "a string"),
    "speed": (int, "an integer"),
    "oscillator_mhz": ((int, float), "a number"),
    "clock_mhz": ((int, float), "a number"),
    "led": (str, "a string"),
    "leds": (int, "an integer"),
    "button": (str, "a string"),
    "uart": (str, "a string"),
    "uart_baud": (int, "an integer (baud)"),
    "programmer_board": (str, "a string"),
}


@dataclass(frozen=True, kw_only=True)
class Board:
    """One FPGA board, with its device variant and design clock chosen.

    Parameters
    ----------
    name : str
        Short name, as in ``--board ulx3s``.
    description : str
        One line for reports.
    family : str
        FPGA family, a key of :data:`hwgen.target.TARGETS` (``"ecp5"``): see :attr:`target`.
    platform : str
        Amaranth platform class of this variant, ``"amaranth_boards.<module>:<Name>Platform"``.
    variant : str
        Device variant, one of ``variants`` (``"85F"``).
    variants : tuple of str
        Variants the board comes in.
    device : str
        FPGA part of this variant (``"LFE5U-85F"``).
    package : str
        FPGA package (``"CABGA381"``).
    speed : int
        Speed grade.
    oscillator_mhz : float
        Frequency of the board oscillator (the PLL input).
    clock_mhz : float
        Requested design (``sync``) clock; equal to ``oscillator_mhz`` means no PLL, else
        the family's PLL must make it (:meth:`hwgen.target.Target.pll`).
    led : str
        Resource name of the LEDs (``platform.request(led, n)``).
    leds : int
        Number of LEDs the board tops drive: at least 1, at most the platform's ``led``
        resources (the board top shows what fits of its LED word, bit 0 first).
    button : str
        Resource name of the user button (index 0 is used).
    uart : str
        Resource name of the UART (with ``rx`` and ``tx``).
    uart_baud : int
        Default baud rate of the UART; the design clock must make it within
        :data:`hwgen.board.uart.MAX_BAUD_ERROR`.
    programmer_board : str
        The board's name for ``openFPGALoader -b`` (``hwgen program``).

    Raises
    ------
    BoardError
        A value of the wrong type, an unknown family or variant, a clock the family's PLL
        cannot make, a baud rate the clock cannot make, a platform that is no amaranth-boards
        platform class or lacks a resource the board tops use.
    """
    name: str
    description: str
    family: str
    platform: str
    variant: str
    variants: tuple[str, ...]
    device: str
    package: str
    speed: int
    oscillator_mhz: float
    clock_mhz: float
    led: str
    leds: int
    button: str
    uart: str
    uart_baud: int
    programmer_board: str

    def __post_init__(self):
        for key, (types, wanted) in _FIELDS.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, types):
                raise BoardError(key, f"expected {wanted}, not {excerpt(value)}")
            if isinstance(value, str) and not (value.isprintable() and len(value) <= 200):
                raise BoardError(key, f"expected {wanted} of at most 200 characters, none of "
                                 f"them a control character, not {excerpt(value)}")
        if not (isinstance(self.variants, tuple) and self.variants
                and all(isinstance(name, str) for name in self.variants)):
            raise BoardError("variants", f"expected variant names, not {excerpt(self.variants)}")
        if self.variant not in self.variants:
            raise BoardError("variant", f"unknown variant {excerpt(self.variant)}",
                             allowed=", ".join(self.variants))
        if not isinstance(self.device, str) or not self.device:
            raise BoardError("device", f"expected a device name, not {excerpt(self.device)}")
        if self.family not in TARGETS:
            raise BoardError("family", f"unknown FPGA family {excerpt(self.family)}",
                             allowed=", ".join(TARGETS))
        self._check_clock()
        if self.uart_baud <= 0:
            raise BoardError("uart_baud", f"must be positive, not {excerpt(self.uart_baud)}")
        try:
            uart_divisor(self.clock_mhz * 1e6, self.uart_baud)
        except ValueError as error:
            raise BoardError("uart_baud", str(error)) from None
        self._check_resources(self.platform_class())

    def _check_clock(self):
        high = self.target.pll_output_mhz[1]
        if not 1 <= self.oscillator_mhz <= high:
            raise BoardError("oscillator_mhz", f"{excerpt(self.oscillator_mhz)} is out of range",
                             allowed=f"1..{high:g} MHz")
        if self.clock_mhz == self.oscillator_mhz:
            return
        low, high = self.target.pll_output_mhz
        if not low <= self.clock_mhz <= high:
            raise BoardError("clock_mhz", f"{excerpt(self.clock_mhz)} is out of range",
                             allowed=f"{low:g}..{high:g} MHz")
        try:
            self.target.pll(self.oscillator_mhz, self.clock_mhz)
        except ValueError as error:
            raise BoardError("clock_mhz", str(error)) from None

    def _check_resources(self, platform: type):
        """The LEDs, button and UART against the resources ``platform`` has."""
        has = Counter(resource.name for resource in platform.resources)
        for key in ("led", "button", "uart"):
            if has[getattr(self, key)] < 1:
                raise BoardError(key, f"{platform.__name__} has no resource "
                                 f"{excerpt(getattr(self, key))}",
                                 allowed=", ".join(sorted(has)))
        if not 1 <= self.leds <= has[self.led]:
            raise BoardError("leds", f"{platform.__name__} has {has[self.led]} {self.led!r} "
                             f"resources, not {excerpt(self.leds)}",
                             allowed=f"1..{has[self.led]}")

    @property
    def target(self) -> Target:
        """The FPGA family's answers (:func:`hwgen.target.target`)."""
        return target(self.family)

    @property
    def uses_pll(self) -> bool:
        """Whether the design clock differs from the oscillator (and so needs a PLL)."""
        return self.clock_mhz != self.oscillator_mhz

    def platform_class(self) -> type:
        """Import and return the Amaranth platform class of this variant: a ``*Platform``
        class of one of amaranth-boards' board modules (:func:`platform_modules`), the only
        modules it imports.

        Raises
        ------
        BoardError
            ``platform`` names another class, or one that does not import.
        """
        match = _PLATFORM.fullmatch(self.platform)
        if match is None or match["module"] not in platform_modules():
            raise BoardError("platform", f"{excerpt(self.platform)} is not an "
                             "amaranth-boards platform class", allowed=PLATFORM_ALLOWED)
        module_name, class_name = f"amaranth_boards.{match['module']}", match["cls"]
        try:
            platform = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise BoardError("platform",
                             f"cannot import {excerpt(self.platform)}: {error}") from None
        from amaranth.build import Platform
        if not (isinstance(platform, type) and issubclass(platform, Platform)):
            raise BoardError("platform", f"{excerpt(self.platform)} is not an "
                             "Amaranth platform class", allowed=PLATFORM_ALLOWED)
        return platform


#: ``amaranth_boards.<module>:<Name>Platform``: what a board file's ``platform`` may name.
_PLATFORM = re.compile(r"amaranth_boards\.(?P<module>[A-Za-z0-9_]+):"
                       r"(?P<cls>[A-Za-z_][A-Za-z0-9_]*Platform)")
PLATFORM_ALLOWED = ("amaranth_boards.<board module>:<Name>Platform, e.g. "
                    "amaranth_boards.ulx3s:ULX3S_85F_Platform")


@functools.cache
def platform_modules() -> frozenset[str]:
    """amaranth-boards' board modules (``ulx3s``, ``icebreaker``, ...), found without
    importing them: the modules a board file's ``platform`` may name."""
    try:
        import amaranth_boards
    except ImportError:
        return frozenset()
    return frozenset(module.name for module in pkgutil.iter_modules(amaranth_boards.__path__)
                     if not module.ispkg and module.name not in ("resources", "test"))


#: The keys of a board file, each required: a Board's fields, less ``device`` (``variants``
#: maps each variant to its device).
_KEYS = (*_FIELDS, "variants")


def available_boards() -> list[str]:
    """Names of the boards shipped with hwgen, sorted."""
    try:
        folder = data_dir("boards")
    except FileNotFoundError:
        return []
    return sorted(path.stem for path in folder.glob("*.yaml"))


def _board_path(name_or_path) -> Path:
    text = str(name_or_path)
    looks_like_path = (isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml"))
                       or "/" in text or "\\" in text)
    if looks_like_path:
        path = Path(name_or_path)
        if not is_file(path):
            raise SpecError(path, "board", "board file not found")
        return path
    names = available_boards()
    if text not in names:
        shown = text if text.isprintable() else excerpt(text)
        raise SpecError(shown, "board", f"unknown board {excerpt(text)}",
                        allowed=", ".join(names) or "none installed")
    return data_dir("boards") / f"{text}.yaml"


def load_board(name_or_path, *, variant: str | None = None,
               clock_mhz: float | None = None) -> Board:
    """Read a board file.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped board's name (``"ulx3s"``, see :func:`available_boards`) or a path to a
        board YAML file.
    variant : str, optional
        Device variant instead of the file's ``variant`` (``"12F"``, ``"25F"``, ...).
    clock_mhz : float, optional
        Design clock instead of the file's ``clock_mhz``.

    Raises
    ------
    SpecError
        Unknown board, unreadable file, unknown or missing key, or a bad value (the
        :class:`BoardError` of :class:`Board`'s check, with the file named).
    """
    path = _board_path(name_or_path)
    # Any readable file may be named here: nothing of a file that is no board file is quoted.
    raw = read_yaml(path, what="board", quote_problems=False)
    if not isinstance(raw, dict):
        raise SpecError(path, None, "not a board file (a YAML mapping of keys to values "
                        "expected)")
    allowed = ", ".join(_KEYS)
    if not any(isinstance(key, str) and key in _KEYS for key in raw):
        raise SpecError(path, None, "not a board file (none of its keys is a board file's)",
                        allowed=allowed)
    for key in raw:
        if key not in _KEYS:
            raise SpecError(path, key_text(key), "unknown key", allowed=allowed)
    for key in _KEYS:
        if key not in raw:
            raise SpecError(path, key, "missing key")

    if not isinstance(raw["variants"], dict):
        raise SpecError(path, "variants", "expected a mapping of variant to device, not "
                        f"{excerpt(raw['variants'])}")
    variants = {str(name): device for name, device in raw["variants"].items()}
    for name, device in variants.items():
        if not (isinstance(device, str) and _WORD.fullmatch(name) and _WORD.fullmatch(device)):
            raise SpecError(path, f"variants.{key_text(name)}", "expected a variant name and "
                            f"a device name, not {excerpt(name)}: {excerpt(device)}",
                            allowed="names of letters, digits, _ and -")
    chosen = raw["variant"] if variant is None else variant
    platform = raw["platform"]
    if isinstance(platform, str) and isinstance(chosen, str):
        # {variant} is replaced, nothing else: str.format would let a file ask for any width.
        platform = platform.replace("{variant}", chosen)
    fields = {key: raw[key] for key in _FIELDS}
    try:
        return Board(**{**fields, "platform": platform, "variant": chosen,
                        "variants": tuple(variants),
                        "device": variants.get(chosen, "") if isinstance(chosen, str) else "",
                        "clock_mhz": raw["clock_mhz"] if clock_mhz is None else clock_mhz})
    except BoardError as error:
        raise SpecError(path, error.key, error.problem, allowed=error.allowed) from None


_WORD = re.compile(r"[A-Za-z0-9_-]{1,40}")
