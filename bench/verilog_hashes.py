"""SHA-256 of the Verilog every example generates; one ``key: value`` a line.

    python bench/verilog_hashes.py [SPEC ...] [--out DIR] [--keep DIR]

For each spec (default: every ``examples/*.yaml``) the flow runs up to the hardware IR
(trained, exported, folded, FIFOs sized; what is done under ``--out``, default
``build/bench/verilog``, is reused) and then prints

    verilog_sha256_<name>      the board top for the spec's board, as the bitstream build's
                               synthesis writes it (RTLIL through Yosys ``write_verilog``)
    sim_verilog_sha256_<name>  the network as verification simulates it

Both are generated without ``src`` attributes: those name the generator's file and line, which
say where code lives, not what hardware it makes. A refactoring that keeps every hash keeps the
hardware, byte for byte. ``--keep DIR`` writes the Verilog files there, to diff two runs.
"""
import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

from hwgen.board.board import load_board
from hwgen.board.build import build_platform
from hwgen.cosim import emit_verilog
from hwgen.flow import Workspace, run_steps
from hwgen.hw.network import Network
from hwgen.spec import load_spec
from hwgen.toolchain import amaranth_tool_env

REPO = Path(__file__).resolve().parent.parent


def board_verilog(top, board) -> str:
    """The board top's Verilog as the build's synthesis run writes it, less ``src``
    attributes."""
    plan = build_platform(board).prepare(top, name="top", emit_src=False, debug_verilog=False)
    env = amaranth_tool_env()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "top.il").write_text(plan.files["top.il"])
        subprocess.run([env["YOSYS"], "-q", "-p",
                        "read_rtlil top.il; proc -nomux -norom; write_verilog -norename top.v"],
                       cwd=folder, env=env, check=True, stdin=subprocess.DEVNULL)
        return (folder / "top.v").read_text()


def _say(message: str):
    print(message, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*",
                        default=sorted(str(p) for p in (REPO / "examples").glob("*.yaml")),
                        help="spec files (default: every examples/*.yaml)")
    parser.add_argument("--out", default=str(REPO / "build" / "bench" / "verilog"),
                        help="output directory of the flows (default: %(default)s)")
    parser.add_argument("--keep", default=None, help="folder to write the Verilog files into")
    args = parser.parse_args(argv)
    keep = Path(args.keep) if args.keep else None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    for path in args.specs:
        spec = load_spec(path)
        workspace = Workspace.create(spec, Path(args.out) / spec.name, say=_say)
        board = workspace.clocked(load_board(spec.board))
        graph = run_steps(workspace, stop="hardware", board=board,
                          clock_hz=board.clock_mhz * 1e6).results["hardware"]
        texts = {
            "verilog": board_verilog(workspace.board_top(graph, board), board),
            "sim_verilog": emit_verilog(Network(graph, fifo_depth=spec.hardware.fifo_depth,
                                                taps=True, target=board.target)),
        }
        for kind, text in texts.items():
            print(f"{kind}_sha256_{spec.name}: {hashlib.sha256(text.encode()).hexdigest()}",
                  flush=True)
            if keep is not None:
                (keep / f"{spec.name}.{kind}.v").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
