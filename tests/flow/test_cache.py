"""The one reuse-or-make helper (hwgen.flow.cache.reuse_or_make) on a toy product: reused
only when intact and made for its key, said when damaged, made in a staging path that never
survives a failure, a shipped copy tried before making, and a product that may only be found."""
import json
import os
import stat
from pathlib import Path

import pytest

from hwgen.errors import HwgenError
from hwgen.flow.cache import NotFound, Product, Unusable, read_summary, reuse_or_make, \
    summary_json


def _read(path):
    saved = read_summary(path)
    return saved["key"], saved


def _maker(calls, value="made", key="k1"):
    def make(stage):
        calls.append(value)
        stage().write_bytes(summary_json({"key": key, "value": value}))
        return {"key": key, "value": value}
    return make


def _keep(product, key, make, said, reused, **options):
    return reuse_or_make(product, key, make, say=said.append, reused=reused, **options)


def test_made_then_reused_then_made_again_for_another_key(tmp_path):
    product = Product("summary", tmp_path / "out" / "s.json", _read)
    calls, said, reused = [], [], []
    made = _keep(product, "k1", _maker(calls), said, reused)
    assert (made.how, made.path, made.value["value"]) == ("made", product.path, "made")
    again = _keep(product, "k1", _maker(calls), said, reused)
    assert again.how == "reused" and calls == ["made"]
    assert said == [f"reusing summary {product.path}"]
    assert reused == [f"summary {product.path}"]
    _keep(product, "k2", _maker(calls, "other", key="k2"), said, reused)
    assert calls == ["made", "other"] and len(said) == 1        # stale: made, silently
    assert read_summary(product.path)["value"] == "other"
    _keep(product, "k2", _maker(calls, "forced", key="k2"), said, reused, force=True)
    assert calls[-1] == "forced"
    assert sorted(p.name for p in product.path.parent.iterdir()) == ["s.json"]


@pytest.mark.parametrize("content", [b"", b"{", b"[1]", b'{"key": "k1", "digest": "0"}'])
def test_a_damaged_product_is_said_and_made_again(tmp_path, content):
    product = Product("summary", tmp_path / "s.json", _read)
    product.path.write_bytes(content)
    calls, said = [], []
    _keep(product, "k1", _maker(calls), said, [])
    assert calls == ["made"] and len(said) == 1
    assert said[0].startswith(f"{product.path} damaged (") and said[0].endswith(
        "): making it again")


def test_a_failed_make_leaves_the_product_and_no_staging(tmp_path):
    product = Product("summary", tmp_path / "s.json", _read)
    _keep(product, "k1", _maker([]), [], [])
    before = product.path.read_bytes()

    def failing(stage):
        stage().write_bytes(b"half")
        raise HwgenError("the tool failed")
    with pytest.raises(HwgenError, match="the tool failed"):
        _keep(product, "k2", failing, [], [])
    assert product.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_a_make_that_fails_before_staging_writes_nothing(tmp_path):
    product = Product("summary", tmp_path / "out" / "s.json", _read)

    def failing(stage):
        raise HwgenError("bad input")
    with pytest.raises(HwgenError):
        _keep(product, "k1", failing, [], [])
    assert not (tmp_path / "out").exists()


def test_a_folder_product_is_replaced_whole(tmp_path):
    def read(folder):
        return (folder / "key").read_text(), sorted(p.name for p in folder.iterdir())

    def make(key, names):
        def fill(stage):
            folder = stage()
            for name in names:
                (folder / name).write_text(key)
            return sorted(names)
        return fill
    product = Product("gateware", tmp_path / "gateware", read, folder=True)
    _keep(product, "a", make("a", ["key", "old.v"]), [], [])
    assert _keep(product, "b", make("b", ["key", "new.v"]), [], []).value == ["key", "new.v"]
    assert sorted(p.name for p in product.path.iterdir()) == ["key", "new.v"]
    assert [p.name for p in tmp_path.iterdir()] == ["gateware"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_made_products_get_the_users_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        _keep(Product("summary", tmp_path / "s.json", _read), "k1", _maker([]), [], [])
        _keep(Product("folder", tmp_path / "f", lambda path: (None, None), folder=True), "k",
              lambda stage: stage(), [], [])
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "s.json").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o777 & ~umask


def test_a_shipped_copy_is_used_and_never_written(tmp_path):
    shipped = tmp_path / "ship" / "s.json"
    shipped.parent.mkdir()
    shipped.write_bytes(summary_json({"key": "k1", "value": "shipped"}))
    product = Product("summary", tmp_path / "out" / "s.json", _read, shipped=shipped,
                      shipped_detail=" (no work needed)")
    said, reused = [], []
    found = _keep(product, "k1", _maker([]), said, reused)
    assert (found.how, found.path, found.value["value"]) == ("shipped", shipped, "shipped")
    assert said == [f"reusing shipped summary {shipped} (no work needed)"]
    assert reused == [f"shipped summary {shipped}"] and not product.path.exists()
    said.clear()
    _keep(product, "k2", _maker([], key="k2"), said, reused)
    assert said == [f"shipped summary {shipped} was made from other settings: making it"]
    shipped.write_bytes(b"{")
    said.clear()
    product.path.unlink()
    _keep(product, "k1", _maker([]), said, reused)
    assert said[0].startswith(f"shipped summary {shipped} damaged (not JSON")
    assert said[0].endswith(": making it")
    assert shipped.read_bytes() == b"{"


def test_a_product_that_may_only_be_found(tmp_path):
    product = Product("summary", tmp_path / "s.json", _read)
    said = []
    with pytest.raises(NotFound, match=rf"^summary {product.path} is missing$"):
        _keep(product, "k1", None, said, [])
    _keep(product, "k1", _maker([]), said, [])
    with pytest.raises(NotFound, match="was made from other settings"):
        _keep(product, "k2", None, said, [])
    product.path.write_bytes(b"")
    with pytest.raises(NotFound, match=r"damaged \(not JSON"):
        _keep(product, "k1", None, said, [])
    assert said == []                      # nothing said to be made


def test_unusable_names_the_file_at_fault():
    error = Unusable.damaged(HwgenError("/x/a.json: not JSON (oops)"), Path("/x/a.json"))
    assert str(error) == "/x/a.json damaged (not JSON (oops))" and error.why.startswith("damaged")
    assert Unusable.damaged(error, Path("/elsewhere")) is error
    assert json.loads(summary_json({"a": (1, 2)}))["a"] == [1, 2]
