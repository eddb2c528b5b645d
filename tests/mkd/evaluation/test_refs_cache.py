"""The resolver's download cache: one copy per store and version identity, never shared."""

from __future__ import annotations

from mkd.config import parse_config
from mkd.evaluation.refs import ModelResolver
from mkd.storage import open_store


def _store_with_adapter(root, weights: bytes):
    store = open_store(parse_config({"store": {"uri": f"file://{root}"}}).store)
    store.put_bytes("registry/finance-student/1/adapter/adapter_model.safetensors", weights)
    return store


def test_same_name_and_version_in_two_stores_are_two_cached_copies(tmp_path):
    """`finance-student:1` of a second store (or of a store rebuilt by `mkd demo --fresh`) must
    not be served from the first one's cached copy."""
    cfg = parse_config({})
    first = _store_with_adapter(tmp_path / "a", b"first adapter")
    second = _store_with_adapter(tmp_path / "b", b"second adapter")
    cache = tmp_path / "cache"
    key, local = "registry/finance-student/1/", "registry/finance-student/1"
    one = ModelResolver(cfg, first, cache)._download(key, local, {"created_at": "t1"})
    two = ModelResolver(cfg, second, cache)._download(key, local, {"created_at": "t1"})
    rebuilt = ModelResolver(cfg, first, cache)._download(key, local, {"created_at": "t2"})
    again = ModelResolver(cfg, first, cache)._download(key, local, {"created_at": "t1"})
    assert len({one, two, rebuilt}) == 3 and again == one
    adapter = "adapter/adapter_model.safetensors"
    assert (one / adapter).read_bytes() == b"first adapter"
    assert (two / adapter).read_bytes() == b"second adapter"
