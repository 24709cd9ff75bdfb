"""Hostile and broken inputs to the spec, board and data loaders: each ends in one line naming
the file and the key, exit status 2, no traceback and nothing written, in bounded time and
memory (huge integers, alias bombs, deep nesting, huge layers, board files naming any module
or any readable file, odd names and seeds, truncated WAV files, missing data folders)."""
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from hwgen.board.board import load_board
from hwgen.cli import main
from hwgen.data.clips import KEYWORDS, read_wav, write_wav
from hwgen.errors import SpecError
from hwgen.resources import data_dir
from hwgen.spec import (MAX_FEATURES, MAX_LAYER_WEIGHT_BITS, MAX_WEIGHT_BITS, MAX_YAML_NODES,
                        SEED_MAX, _divisors, excerpt, load_spec)

FC = {"type": "linear", "out": 10}


def _hostile(tmp_path, capsys, spec, *argv, command="export", status=2, seconds=5.0) -> str:
    """Run ``hwgen COMMAND spec.yaml ARGV`` on ``spec`` (a mapping or the file's text); check
    the exit status, one line on stderr without a traceback, the time taken and that nothing
    was written; return the line."""
    path = spec if isinstance(spec, Path) else tmp_path / "spec.yaml"
    if not isinstance(spec, Path):
        path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec))
    out = tmp_path / "out"
    before = sorted(tmp_path.rglob("*"))
    start = time.monotonic()
    code = main([command, str(path), "--out", str(out), *argv])
    elapsed = time.monotonic() - start
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == status, captured.err
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("hwgen: error: ") and len(lines[0]) < 600, lines[0][:600]
    assert elapsed < seconds, f"{elapsed:.1f} s"
    assert sorted(tmp_path.rglob("*")) == before and not out.exists()
    return lines[0]


def _spec(**top) -> dict:
    return {"name": "net", "model": {"layers": [FC]}, **top}


# --- 1. validation in bounded time and memory ----------------------------------------------

@pytest.mark.parametrize("spec, ending", [
    ({"name": "net", "model": {"layers": [{"type": "linear", "out": 10 ** 12, "pe": 7}, FC]}},
     f"model.layers[0].out: {10 ** 12} is more elements than a layer's input or output may "
     f"have (allowed: at most {MAX_FEATURES})"),
    ({"name": "net", "cim": {"rows": 10 ** 12, "wordlines": 7},
      "model": {"layers": [{**FC, "backend": "cim"}]}},
     f"cim.rows: must lie in 1..65536, not {10 ** 12}"),
    ({"name": "net", "cim": {"rows": 6, "wordlines": 10 ** 4},
      "model": {"layers": [{**FC, "backend": "cim"}]}},
     "cim.wordlines: must be at most rows=6, not 10000 (allowed: 1..6)"),
    ({"name": "net", "model": {"layers": [{"type": "linear", "out": 10 ** 7}, FC]}},
     f"model.layers[0].out: 10000000 is more elements than a layer's input or output may have "
     f"(allowed: at most {MAX_FEATURES})"),
    ({"name": "net", "model": {"layers": [{"type": "linear", "out": 10 ** 6}, FC]}},
     f"model.layers[0].out: out*in=1000000*64=64000000 weight bits, more than a layer may "
     f"have (allowed: at most {MAX_LAYER_WEIGHT_BITS} per layer)"),
    ({"name": "net", "model": {"layers": [{"type": "linear", "out": 2 ** 18}] * 2 + [FC]}},
     f"model.layers[1].out: out*in=262144*262144=68719476736 weight bits, more than a layer "
     f"may have (allowed: at most {MAX_LAYER_WEIGHT_BITS} per layer)"),
    ({"name": "net", "model": {"layers": [{"type": "linear", "out": 4096}] * 5 + [FC]}},
     f"model.layers[4].out: out*in=4096*4096=16777216 weight bits bring the network to "
     f"{2 ** 18 + 4 * 2 ** 24}, more than it may have (allowed: at most {MAX_WEIGHT_BITS} in "
     f"all)"),
    ({"name": "net", "model": {"layers": [
        {"type": "conv", "out": 4, "kernel": 10 ** 15, "padding": 10 ** 15 - 1}, FC]}},
     "model.layers[0].out: out*kernel*in=4*1000000000000000*1000000000000000*1="),
    ({"name": "net", "model": {"layers": [{"type": "conv", "out": 32768, "kernel": 1}, FC]}},
     f"model.layers[0].out: gives a 32768x8x8 output of 2097152 elements, more than a layer may "
     f"(allowed: at most {MAX_FEATURES})"),
    ({"name": "net", "model": {"layers": [{"type": "linear", "out": 10 ** 40}, FC]}},
     "model.layers[0].out: 10000000000000000000000000000000000000000 is out of range "
     "(allowed: integers of at most 9223372036854775807 (2**63-1) either side of 0)"),
    ({"name": "net", "train": {"lr": 10 ** 400}, "model": {"layers": [FC]}},
     "train.lr: expected a number, got 1" + "0" * 27 + "..." + "0" * 29 + " "
     "(allowed: finite numbers)"),
    ({"name": "net", "hardware": {"fifo_depth": 10 ** 12}, "model": {"layers": [FC]}},
     f"hardware.fifo_depth: must lie in 1..65536, not {10 ** 12}"),
    ({"name": "net", "data": {"dataset": "speech_commands", "speakers": 10 ** 12},
      "model": {"layers": [{"type": "linear", "out": 12}]}},
     f"data.speakers: must lie in 10..100000, not {10 ** 12}"),
])
def test_huge_sizes_are_refused_at_once(tmp_path, capsys, spec, ending):
    line = _hostile(tmp_path, capsys, spec)
    assert line.startswith(f"hwgen: error: {tmp_path / 'spec.yaml'}: ")
    assert ending in line


def test_divisors_take_bounded_time_for_any_integer():
    start = time.monotonic()
    assert _divisors(7 * 2 ** 60) == (f"1, 2, 4, 7, 8, 14, 16, 28, ..., {7 * 2 ** 59}, "
                                      f"{7 * 2 ** 60} (the divisors of {7 * 2 ** 60})")
    assert _divisors(10 ** 18 + 9).startswith("1, ")
    assert _divisors(144) == "1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 36, 48, 72, 144"
    assert _divisors(12, scale=3) == "3, 6, 9, 12, 18, 36"
    assert time.monotonic() - start < 1


def _nested_laughs(levels: int, key: str) -> str:
    # The anchors inside the quoted value itself, so no unknown key is met first.
    items = ['&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        items.append(f"&a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    return f"{key}: [{', '.join(items)}]\nmodel: {{layers: [{{type: linear, out: 10}}]}}\n"


def _top_level_laughs(levels: int) -> str:
    # The anchors as keys of their own, the last list the name.
    text = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(1, levels):
        text += f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]\n"
    return text + f"name: *a{levels - 1}\n"


@pytest.mark.parametrize("text", [_nested_laughs(8, "name"), _top_level_laughs(8)])
def test_billion_laughs_is_refused_before_it_is_built(tmp_path, capsys, text):
    assert len(text.encode()) < 700
    line = _hostile(tmp_path, capsys, text, seconds=2)
    assert line.endswith(f"spec.yaml: invalid YAML: its aliases expand to more than "
                         f"{MAX_YAML_NODES} nodes (allowed: at most {MAX_YAML_NODES} nodes with "
                         f"aliases expanded)")


def test_an_aliased_value_is_quoted_in_a_bounded_excerpt(tmp_path, capsys):
    line = _hostile(tmp_path, capsys, _nested_laughs(4, "name"))   # 9**4 laughs: allowed
    assert "name: expected a string, got [['lol', 'lol'," in line and len(line) < 300


@pytest.mark.parametrize("text, ending", [
    ("name: &a [*a]\n", "spec.yaml: invalid YAML: an alias refers to a node that contains it"),
    ("name: " + "[" * 100_000 + "\n", "spec.yaml: invalid YAML at line 1, column 70: nested "
                                      "more than 64 levels deep"),
    ("name: net\nseed: " + "9" * 5000 + "\n", "spec.yaml: invalid YAML: Exceeds the limit "
     "(4300 digits) for integer string conversion: value has 5000 digits"),
    ("name: net\nseed: 2024-13-45\n", "spec.yaml: invalid YAML: month must be in 1..12"),
    ("name: net\nmodel: {layers: [{type: [1]}]}\n",
     "spec.yaml: model.layers[0].type: unknown value [1] (allowed: linear, conv, dwconv, maxpool, avgpool, add, concat)"),
    ('name: net\n"bad\\nkey\\0": 1\n', "spec.yaml: 'bad\\nkey\\x00': unknown key (allowed: "),
    ("name: net\n" + "x" * 300 + ": 1\n", "spec.yaml: '" + "x" * 36 + "...: unknown key"),
])
def test_broken_yaml_is_one_line(tmp_path, capsys, text, ending):
    line = _hostile(tmp_path, capsys, text)
    assert ending in line


def test_a_huge_spec_file_is_not_read(tmp_path, capsys):
    text = "name: net\n" + "# padding\n" * 120_000
    line = _hostile(tmp_path, capsys, text)
    assert line.endswith("spec.yaml: is 1200010 bytes, more than a spec file may have (allowed: "
                         "at most 1048576 bytes)")


def test_excerpt_is_bounded():
    nested = ["x" * 10_000]
    for _ in range(50):
        nested = [nested] * 10
    assert len(excerpt(nested)) <= 100 and len(excerpt("y" * 10 ** 6)) <= 100
    assert excerpt("a\nb\0") == "'a\\nb\\x00'"


# --- 2. board files -------------------------------------------------------------------------

def _board_text(**changes) -> str:
    raw = yaml.safe_load((data_dir("boards") / "ulx3s.yaml").read_text())
    raw.update(changes)
    return yaml.safe_dump(raw)


@pytest.mark.parametrize("platform", [
    "this:Nope", "hwgen_marker_module:Platform", "amaranth_boards.ulx3s:os",
    "os:system", "amaranth_boards.test:TestPlatform", "amaranth_boards.ulx3s:{variant:>999999999}",
])
def test_a_board_names_only_amaranth_boards_platforms(tmp_path, capsys, monkeypatch, platform):
    # A module on the path that would leave a marker if it were imported.
    marker = tmp_path / "imported"
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "hwgen_marker_module.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass Platform: pass\n")
    monkeypatch.syspath_prepend(str(modules))
    board = tmp_path / "board.yaml"
    board.write_text(_board_text(platform=platform))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec(board=str(board))))
    line = _hostile(tmp_path, capsys, spec, command="program")
    assert line.startswith(f"hwgen: error: {board}: platform: ")
    assert "(allowed: amaranth_boards.<board module>:<Name>Platform" in line
    assert not marker.exists() and "this" not in sys.modules


@pytest.mark.parametrize("content, problem", [
    ("s3cr3t-first-line\nmore\n", "not a board file (a YAML mapping of keys to values expected)"),
    ("root:$6$s3cr3t:19000:0:99999:7:::\n", "not a board file (none of its keys is a board"),
    ("s3cr3t: value\n", "not a board file (none of its keys is a board file's)"),
    ("s3cr3t: [unclosed\n", "not a board file (invalid YAML at line 2, column 1)"),
    ("key: s3cr3t: x\n", "not a board file (invalid YAML at line 1, column 12)"),
    ("!s3cr3t x\n", "not a board file (invalid YAML at line 1, column 1)"),
    (b"\xffs3cr3t\n", "not a board file (UTF-8 text expected)"),
])
def test_a_board_that_is_another_file_is_never_quoted(tmp_path, capsys, content, problem):
    secret = tmp_path / "secret"
    secret.write_bytes(content if isinstance(content, bytes) else content.encode())
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec()))
    for argv, spec_board in ((["--board", str(secret)], None), ([], str(secret))):
        if spec_board is not None:
            spec.write_text(yaml.safe_dump(_spec(board=spec_board)))
        line = _hostile(tmp_path, capsys, spec, *argv, command="program")
        assert line == f"hwgen: error: {secret}: {problem}" or \
            line.startswith(f"hwgen: error: {secret}: {problem}")
        assert "s3cr3t" not in line.replace(str(secret), "")


def test_board_names_and_paths_from_anywhere(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec()))
    line = _hostile(tmp_path, capsys, spec, "--board", "x" * 300 + ".yaml", command="program")
    assert line.endswith("board: board file not found")
    line = _hostile(tmp_path, capsys, spec, "--board", "a\nb", command="program")
    assert "unknown board 'a\\nb'" in line
    spec.write_text(yaml.safe_dump(_spec(board="ulx3s\x01")))
    line = _hostile(tmp_path, capsys, spec, command="program")
    assert "spec.yaml: board: 'ulx3s\\x01' is not a usable name or path" in line


@pytest.mark.parametrize("command", ["train", "export", "sim", "report", "build", "run"])
def test_an_unknown_board_in_the_spec_stops_every_command(tmp_path, capsys, command):
    """A misspelt ``board:`` is one line naming the spec's key before anything runs, whatever
    the command (hwgen sim once trained, exported and co-simulated with it, exit 0)."""
    argv = ["--port", "loop://"] if command == "run" else []
    line = _hostile(tmp_path, capsys, _spec(board="ulx4s"), *argv, command=command)
    assert line.startswith("hwgen: error: ") and "spec.yaml: board: " in line
    assert "ulx4s" in line and "allowed:" in line and "ulx3s" in line


def test_the_shipped_board_still_loads():
    assert load_board("ulx3s").platform_class().__name__ == "ULX3S_85F_Platform"


# --- 3. names, seeds, WAV files, data folders ------------------------------------------------

@pytest.mark.parametrize("name, shown", [
    ("n" * 300, "'" + "n" * 29), ("a\0b", "'a\\x00b'"), ("a/b", "'a/b'"), ("..", "'..'"),
    ("-rf", "'-rf'"), ("tab\tname", "'tab\\tname'"),
])
def test_name_must_be_a_plain_folder_name(tmp_path, capsys, name, shown):
    line = _hostile(tmp_path, capsys, _spec(name=name))
    assert f"spec.yaml: name: must be a plain folder name, not {shown}" in line
    assert line.endswith("(allowed: 1 to 64 of A-Z a-z 0-9 _ . + -, the first not . + -)")


def test_a_file_name_that_is_no_folder_name_needs_a_name_key(tmp_path, capsys):
    path = tmp_path / "my spec.yaml"
    path.write_text(yaml.safe_dump({"model": {"layers": [FC]}}))
    line = _hostile(tmp_path, capsys, path)
    assert "my spec.yaml: name: missing, and the file's name 'my spec' is not a plain folder " \
           "name to take instead: give the spec a name" in line


@pytest.mark.parametrize("key, seed", [("seed", -1), ("seed", 2 ** 32), ("seed", 2 ** 40),
                                       ("cim.seed", -1)])
def test_seed_range(tmp_path, capsys, key, seed):
    spec = _spec(seed=seed) if key == "seed" else {
        **_spec(cim={"seed": seed}), "model": {"layers": [{**FC, "backend": "cim"}]}}
    line = _hostile(tmp_path, capsys, spec)
    assert line.endswith(f"spec.yaml: {key}: must lie in 0..2**32-1, not {seed} "
                         f"(allowed: 0..{SEED_MAX})")


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_seed_option_range(tmp_path, capsys, seed):
    line = _hostile(tmp_path, capsys, _spec(), "--seed", seed)
    assert line == f"hwgen: error: --seed: must lie in 0..2**32-1, not {seed} " \
                   f"(allowed: 0..{SEED_MAX})"


def _speech_folder(root: Path, *, cut: int | None = None) -> Path:
    """A tiny Speech Commands folder; with ``cut``, its first clip loses its last ``cut``
    bytes (a copy that stopped early)."""
    rng = np.random.default_rng(0)
    for word in KEYWORDS:
        (root / word).mkdir(parents=True)
        write_wav(root / word / "aaaa0001_nohash_0.wav", 0.1 * rng.standard_normal(16000))
    (root / "_background_noise_").mkdir()
    write_wav(root / "_background_noise_" / "noise.wav", 0.1 * rng.standard_normal(20000))
    clip = root / KEYWORDS[0] / "aaaa0001_nohash_0.wav"
    if cut:
        clip.write_bytes(clip.read_bytes()[:-cut])
    return clip


@pytest.mark.parametrize("cut", [1, 2, 1000, 31999])
def test_a_truncated_wav_is_refused_naming_it(tmp_path, cut):
    clip = _speech_folder(tmp_path / "speech", cut=cut)
    with pytest.raises(SpecError) as caught:
        read_wav(clip)
    message = str(caught.value)
    assert message == (f"{clip}: truncated WAV file: its header says 16000 samples (32000 "
                       f"bytes), the file holds {32000 - cut} bytes of them")


def test_a_wav_claiming_gigabytes_allocates_nothing(tmp_path):
    clip = _speech_folder(tmp_path / "speech")
    data = bytearray(clip.read_bytes())
    data[40:44] = (2 ** 31).to_bytes(4, "little")            # the data chunk's size
    clip.write_bytes(bytes(data))
    with pytest.raises(SpecError, match=r"truncated WAV file: its header says 1073741824 "):
        read_wav(clip)
    clip.write_bytes(b"RIFF\0\0")
    with pytest.raises(SpecError, match=r": not a readable WAV file \("):
        read_wav(clip)


def _speech_spec(path: str) -> dict:
    return {"name": "kws", "data": {"dataset": "speech_commands", "path": path},
            "train": {"epochs": 1},
            "model": {"layers": [{"type": "linear", "out": 12}]}}


def test_a_truncated_wav_in_the_data_folder_stops_the_run(tmp_path, capsys):
    clip = _speech_folder(tmp_path / "speech", cut=1)
    line = _hostile(tmp_path, capsys, _speech_spec("speech"), command="train", seconds=60)
    assert line == (f"hwgen: error: {clip}: truncated WAV file: its header says 16000 samples "
                    f"(32000 bytes), the file holds 31999 bytes of them")


@pytest.mark.parametrize("make, problem", [
    (lambda root: None, "data.path: no Speech Commands folder there: {root}"),
    (lambda root: root.write_text("a file"), "data.path: no Speech Commands folder there: {root}"),
    (lambda root: (root / "yes").mkdir(parents=True),
     "data.path: no folder for keyword(s) no, up, down, left, right, on, off, stop, go (a Speech "
     "Commands copy has one folder per word): {root}"),
    (lambda root: [(root / word).mkdir(parents=True) for word in KEYWORDS],
     "data.path: no _background_noise_ folder of WAV files (needed for the _silence_ class): "
     "{root}"),
])
def test_a_bad_data_folder_names_the_spec_key(tmp_path, capsys, make, problem):
    root = tmp_path / "speech"
    make(root)
    for command in ("train", "export", "build"):
        line = _hostile(tmp_path, capsys, _speech_spec("speech"), command=command)
        assert line == (f"hwgen: error: {tmp_path / 'spec.yaml'}: "
                        + problem.format(root=root.resolve()))


def test_a_spec_loads_without_its_data_folder(tmp_path):
    """Whether the folder holds the data is checked where the data is needed, so a spec whose
    results are built runs, reports and programs on a machine without it."""
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_speech_spec("speech")))
    assert load_spec(path).data.path == str((tmp_path / "speech").resolve())


def test_a_good_data_folder_loads(tmp_path):
    _speech_folder(tmp_path / "speech")
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_speech_spec("speech")))
    assert load_spec(path).data.path == str((tmp_path / "speech").resolve())
