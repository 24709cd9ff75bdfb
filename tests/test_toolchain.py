"""The Verilator environment (:func:`hwgen.toolchain.verilator_env`)."""
from hwgen.toolchain import verilator_env


def _executable(folder, name):
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_verilator_builds_through_ccache_when_there_is_one(tmp_path, monkeypatch):
    monkeypatch.setattr("hwgen.toolchain._scripts_dir", lambda: str(tmp_path))
    bare = verilator_env({"PATH": str(tmp_path)})
    assert "OBJCACHE" not in bare["MAKEFLAGS"]
    assert "CFG_CXXFLAGS_PCH_I=-include" in bare["MAKEFLAGS"]     # the wheel's workaround
    _executable(tmp_path, "ccache")
    env = verilator_env({"PATH": str(tmp_path)})
    assert env["MAKEFLAGS"].split()[-1] == "OBJCACHE=ccache"
    assert verilator_env(env)["MAKEFLAGS"] == env["MAKEFLAGS"]     # idempotent


def test_a_users_objcache_stands(tmp_path, monkeypatch):
    monkeypatch.setattr("hwgen.toolchain._scripts_dir", lambda: str(tmp_path))
    _executable(tmp_path, "ccache")
    env = verilator_env({"PATH": str(tmp_path), "MAKEFLAGS": "OBJCACHE="})
    assert "OBJCACHE=ccache" not in env["MAKEFLAGS"]
    assert env["MAKEFLAGS"].startswith("OBJCACHE= ")
