"""FPGA boards: what hwgen needs to know about one, read from ``boards/<name>.yaml``.

A board file names the Amaranth platform class (from amaranth-boards), the device variants it
comes in, the oscillator and the design clock, and the resource names of the LEDs, button and
UART that the board tops in :mod:`hwgen.fpga.top` drive, the UART's default baud rate and the
programmer's name for the board. All pins come from the platform class; a board file never
lists pins.
"""
import importlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import SpecError
from ..resources import data_dir
from .uart import uart_divisor

__all__ = ["Board", "load_board", "available_boards", "PLL_OUTPUT_MHZ"]

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
        :data:`hwgen.fpga.uart.MAX_BAUD_ERROR`.
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
        """Import and return the Amaranth platform class of this variant."""
        module_name, _, class_name = self.platform.partition(":")
        try:
            return getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise SpecError(self.name, "platform",
                            f"cannot import {self.platform!r}: {error}") from None


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
        if not path.is_file():
            raise SpecError(path, "board", "board file not found")
        return path
    names = available_boards()
    if text not in names:
        raise SpecError(text, "board", f"unknown board {text!r}",
                        allowed=", ".join(names) or "none installed")
    return data_dir("boards") / f"{text}.yaml"


def _check_number(path, key, value, *, low=None, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(path, key, f"expected a number, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise SpecError(path, key, f"{value!r} is out of range", allowed=f"{low:g}..{high:g} MHz")


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
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SpecError(path, None, f"cannot read board file: {error}".splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise SpecError(path, None, "a board file must be a mapping of keys to values")
    allowed = ", ".join(_SCHEMA)
    for key in raw:
        if key not in _SCHEMA:
            raise SpecError(path, str(key), "unknown key", allowed=allowed)
    for key, (types, wanted) in _SCHEMA.items():
        if key not in raw:
            raise SpecError(path, key, "missing key")
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise SpecError(path, key, f"expected {wanted}, not {value!r}")

    variants = {str(name): device for name, device in raw["variants"].items()}
    for name, device in variants.items():
        if not isinstance(device, str):
            raise SpecError(path, f"variants.{name}", f"expected a device name, not {device!r}")
    chosen = raw["variant"] if variant is None else variant
    if chosen not in variants:
        key = "variant"
        raise SpecError(path, key, f"unknown variant {chosen!r}", allowed=", ".join(variants))

    clock = raw["clock_mhz"] if clock_mhz is None else clock_mhz
    low, high = PLL_OUTPUT_MHZ
    _check_number(path, "clock_mhz", clock, low=low, high=high)
    _check_number(path, "oscillator_mhz", raw["oscillator_mhz"], low=1, high=high)
    if raw["leds"] < 8:
        raise SpecError(path, "leds", f"the board tops need at least 8 LEDs, not {raw['leds']!r}")
    if raw["uart_baud"] <= 0:
        raise SpecError(path, "uart_baud", f"must be positive, not {raw['uart_baud']!r}")
    try:
        uart_divisor(clock * 1e6, raw["uart_baud"])
    except ValueError as error:
        raise SpecError(path, "uart_baud", str(error)) from None
    try:
        platform = raw["platform"].format(variant=chosen)
    except (KeyError, IndexError, ValueError) as error:
        raise SpecError(path, "platform", f"bad template {raw['platform']!r}: {error}") from None
    if ":" not in platform:
        raise SpecError(path, "platform", f"expected 'module:Class', not {platform!r}")

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
        raise SpecError(path, "platform", error.problem) from None
    return board
