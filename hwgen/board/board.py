"""FPGA boards: what hwgen needs to know about one, read from ``boards/<name>.yaml``.

A board file names the Amaranth platform class (from amaranth-boards), the device variants it
comes in, the oscillator and the design clock, and the resource names of the LEDs, button and
UART that the board tops in :mod:`hwgen.board.top` drive, the UART's default baud rate and the
programmer's name for the board. All pins come from the platform class; a board file never
lists pins.

The platform is one of amaranth-boards' platform classes (:func:`platform_modules`): a board
file cannot make hwgen import any other module. A file that is no board file is refused
without quoting it (a ``--board`` may name any readable file).
"""
import functools
import importlib
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SpecError
from ..resources import data_dir
from ..spec import excerpt, is_file, key_text, read_yaml
from .uart import uart_divisor

__all__ = ["Board", "load_board", "available_boards", "platform_modules", "PLL_OUTPUT_MHZ"]

# EHXPLLL output range (Project Trellis' ecppll); also the range a design clock may take.
PLL_OUTPUT_MHZ = (10.0, 400.0)


@dataclass(frozen=True, kw_only=True)
class Board:
    """One FPGA board, with its device variant and design clock chosen.

    Parameters
    ----------
    name : str
        Short name, as in ``--board ulx3s``.
    description : str
        One line for reports.
    platform : str
        Amaranth platform class of this variant, ``"module:Class"``.
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
        Requested design (``sync``) clock; equal to ``oscillator_mhz`` means no PLL.
    led : str
        Resource name of the LEDs (``platform.request(led, n)``).
    leds : int
        Number of LEDs.
    button : str
        Resource name of the user button (index 0 is used).
    uart : str
        Resource name of the UART (with ``rx`` and ``tx``).
    uart_baud : int
        Default baud rate of the UART; the design clock must make it within
        :data:`hwgen.board.uart.MAX_BAUD_ERROR`.
    programmer_board : str
        The board's name for ``openFPGALoader -b`` (``hwgen program``).
    """
    name: str
    description: str
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
        if self.variant not in self.variants:
            raise ValueError(f"variant must be one of {', '.join(self.variants)}, "
                             f"not {self.variant!r}")
        if ":" not in self.platform:
            raise ValueError(f"platform must be 'module:Class', not {self.platform!r}")
        for field in ("oscillator_mhz", "clock_mhz"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{field} must be a positive number, not {value!r}")
        low, high = PLL_OUTPUT_MHZ
        if not low <= self.clock_mhz <= high:
            raise ValueError(f"clock_mhz must be within {low:g}..{high:g} MHz, "
                             f"not {self.clock_mhz!r}")
        if isinstance(self.leds, bool) or not isinstance(self.leds, int) or self.leds < 8:
            raise ValueError(f"leds must be an integer of at least 8, not {self.leds!r}")
        if isinstance(self.uart_baud, bool) or not isinstance(self.uart_baud, int) \
                or self.uart_baud <= 0:
            raise ValueError(f"uart_baud must be a positive integer, not {self.uart_baud!r}")
        uart_divisor(self.clock_mhz * 1e6, self.uart_baud)     # raises if out of reach

    @property
    def uses_pll(self) -> bool:
        """Whether the design clock differs from the oscillator (and so needs a PLL)."""
        return self.clock_mhz != self.oscillator_mhz

    def platform_class(self) -> type:
        """Import and return the Amaranth platform class of this variant: a ``*Platform``
        class of one of amaranth-boards' board modules (:func:`platform_modules`), the only
        modules it imports."""
        match = _PLATFORM.fullmatch(self.platform)
        if match is None or match["module"] not in platform_modules():
            raise SpecError(self.name, "platform", f"{excerpt(self.platform)} is not an "
                            "amaranth-boards platform class", allowed=PLATFORM_ALLOWED)
        module_name, class_name = f"amaranth_boards.{match['module']}", match["cls"]
        try:
            platform = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise SpecError(self.name, "platform",
                            f"cannot import {excerpt(self.platform)}: {error}") from None
        from amaranth.build import Platform
        if not (isinstance(platform, type) and issubclass(platform, Platform)):
            raise SpecError(self.name, "platform", f"{excerpt(self.platform)} is not an "
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


# key -> (accepted Python types, what to say when it is wrong)
_SCHEMA = {
    "name": (str, "a string"),
    "description": (str, "a string"),
    "platform": (str, "a string 'module:Class'"),
    "variant": (str, "a string"),
    "variants": (dict, "a mapping of variant to device"),
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


def _check_number(path, key, value, *, low=None, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(path, key, f"expected a number, not {excerpt(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise SpecError(path, key, f"{excerpt(value)} is out of range",
                        allowed=f"{low:g}..{high:g} MHz")


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
        Unknown board, unreadable file, unknown or missing key, value of the wrong type,
        unknown variant, clock out of range.
    """
    path = _board_path(name_or_path)
    # Any readable file may be named here: nothing of a file that is no board file is quoted.
    raw = read_yaml(path, what="board", quote_problems=False)
    if not isinstance(raw, dict):
        raise SpecError(path, None, "not a board file (a YAML mapping of keys to values "
                        "expected)")
    if not any(isinstance(key, str) and key in _SCHEMA for key in raw):
        raise SpecError(path, None, "not a board file (none of its keys is a board file's)",
                        allowed=", ".join(_SCHEMA))
    allowed = ", ".join(_SCHEMA)
    for key in raw:
        if key not in _SCHEMA:
            raise SpecError(path, key_text(key), "unknown key", allowed=allowed)
    for key, (types, wanted) in _SCHEMA.items():
        if key not in raw:
            raise SpecError(path, key, "missing key")
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise SpecError(path, key, f"expected {wanted}, not {excerpt(value)}")
        if isinstance(value, str) and not (value.isprintable() and len(value) <= 200):
            raise SpecError(path, key, f"expected {wanted} of at most 200 characters, none of "
                            f"them a control character, not {excerpt(value)}")

    variants = {str(name): device for name, device in raw["variants"].items()}
    for name, device in variants.items():
        if not (isinstance(device, str) and _WORD.fullmatch(name) and _WORD.fullmatch(device)):
            raise SpecError(path, f"variants.{key_text(name)}", "expected a variant name and "
                            f"a device name, not {excerpt(name)}: {excerpt(device)}",
                            allowed="names of letters, digits, _ and -")
    chosen = raw["variant"] if variant is None else variant
    if chosen not in variants:
        key = "variant"
        raise SpecError(path, key, f"unknown variant {excerpt(chosen)}",
                        allowed=", ".join(variants))

    clock = raw["clock_mhz"] if clock_mhz is None else clock_mhz
    low, high = PLL_OUTPUT_MHZ
    _check_number(path, "clock_mhz", clock, low=low, high=high)
    _check_number(path, "oscillator_mhz", raw["oscillator_mhz"], low=1, high=high)
    if raw["leds"] < 8:
        raise SpecError(path, "leds", f"the board tops need at least 8 LEDs, not "
                        f"{excerpt(raw['leds'])}")
    if raw["uart_baud"] <= 0:
        raise SpecError(path, "uart_baud", f"must be positive, not {excerpt(raw['uart_baud'])}")
    try:
        uart_divisor(clock * 1e6, raw["uart_baud"])
    except ValueError as error:
        raise SpecError(path, "uart_baud", str(error)) from None
    # {variant} is replaced, nothing else: str.format would let a file ask for any width.
    platform = raw["platform"].replace("{variant}", chosen)
    if ":" not in platform:
        raise SpecError(path, "platform", f"expected 'module:Class', not {excerpt(platform)}")

    board = Board(
        name=raw["name"], description=raw["description"], platform=platform,
        variant=chosen, variants=tuple(variants), device=variants[chosen],
        package=raw["package"], speed=raw["speed"],
        oscillator_mhz=raw["oscillator_mhz"], clock_mhz=clock,
        led=raw["led"], leds=raw["leds"], button=raw["button"], uart=raw["uart"],
        uart_baud=raw["uart_baud"], programmer_board=raw["programmer_board"])
    try:
        board.platform_class()
    except SpecError as error:
        raise SpecError(path, "platform", error.problem, allowed=error.allowed) from None
    return board


_WORD = re.compile(r"[A-Za-z0-9_-]{1,40}")
