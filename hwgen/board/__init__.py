"""FPGA boards: board files, the board top, the UART link, the bitstream build.

A board is one YAML file under ``boards/`` naming its FPGA family (``family: ecp5``); the
family's answers (clock, memories, tools, report) come from its :mod:`hwgen.target`.
``docs/adding-a-board.md`` says how to add one.

* :mod:`.board`: :class:`Board`, :func:`load_board` (``boards/<name>.yaml``).
* :mod:`.top`: :class:`BoardTop` (:class:`BoardCore`), frames over the UART and from a ROM
  through a network, results over the UART and on LEDs.
* :mod:`.uart`: 8N1 :class:`UARTReceiver` and :class:`UARTTransmitter`.
* :mod:`.protocol` (host side) and :mod:`.link` (board side): the serial frame protocol.
* :mod:`.host`: ``hwgen run`` (:func:`run_test_set`) and ``hwgen program``.
* :mod:`.build`: :func:`build_bitstream`, the platform's build plan run stage by stage through
  the target's tools.
"""
from .board import Board, BoardError, available_boards, load_board
from .build import build_bitstream, build_platform
from .top import BoardCore, BoardTop
from .uart import UARTReceiver, UARTTransmitter, uart_divisor

__all__ = [
    "Board", "BoardError", "available_boards", "load_board",
    "build_bitstream", "build_platform",
    "BoardCore", "BoardTop",
    "UARTReceiver", "UARTTransmitter", "uart_divisor",
]
