"""The served-model cache: private, keyed by store, verified against the manifest's sha256."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from mkd.config.store import StoreConfig
from mkd.registry import Registry
from mkd.serve.config import StudentArgs
from mkd.storage import open_store

from serving.model_cache import CacheError, cache_root
from serving.student import resolve_source

ADAPTER = {"adapter_config.json": b'{"r": 8}', "adapter_model.safetensors": b"real weights"}


def _register(store_dir: Path, files: dict[str, bytes], src: Path) -> StoreConfig:
    src.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in files.items():
        (src / name).write_bytes(data)
        paths[f"adapter/{name}"] = src / name
    config = StoreConfig(uri=f"file://{store_dir}")
    Registry(open_store(config)).register(
        "finance-student",
        {"base_model_uri": "hf://tiny/base", "gates": {"passed": True, "failed": []}},
        files=paths,
    )
    return config


def _resolve(config: StoreConfig, cache: Path) -> Path:
    args = StudentArgs(version="finance-student:1", cache_dir=str(cache))
    source = resolve_source(args, config)
    assert source.version == "finance-student:1" and source.base_uri == "hf://tiny/base"
    return Path(source.adapter)


def test_a_planted_wrong_adapter_is_detected_and_replaced(tmp_path: Path) -> None:
    config = _register(tmp_path / "store", ADAPTER, tmp_path / "src")
    adapter = _resolve(config, tmp_path / "cache")
    # what the test suite once left behind: same names, other (tiny) weights, and an extra file
    (adapter / "adapter_model.safetensors").write_bytes(b"tiny test adapter")
    (adapter / "adapter_model.bin").write_bytes(b"stray")
    again = _resolve(config, tmp_path / "cache")
    assert again == adapter
    assert (adapter / "adapter_model.safetensors").read_bytes() == b"real weights"
    assert sorted(p.name for p in adapter.iterdir()) == sorted(ADAPTER)


def test_two_stores_with_the_same_name_and_version_never_share_files(tmp_path: Path) -> None:
    a = _register(tmp_path / "a", ADAPTER, tmp_path / "src-a")
    other = {**ADAPTER, "adapter_model.safetensors": b"other store's weights"}
    b = _register(tmp_path / "b", other, tmp_path / "src-b")
    path_a, path_b = _resolve(a, tmp_path / "cache"), _resolve(b, tmp_path / "cache")
    assert path_a != path_b
    assert (path_a / "adapter_model.safetensors").read_bytes() == b"real weights"
    assert (path_b / "adapter_model.safetensors").read_bytes() == b"other store's weights"


def test_a_store_file_that_breaks_its_manifest_hash_is_refused(tmp_path: Path) -> None:
    config = _register(tmp_path / "store", ADAPTER, tmp_path / "src")
    key = next((tmp_path / "store").rglob("adapter_model.safetensors"))
    key.write_bytes(b"tampered in the store")
    with pytest.raises(CacheError, match=r"adapter/adapter_model\.safetensors: fetched sha256"):
        _resolve(config, tmp_path / "cache")


def test_the_cache_root_is_private(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    assert stat.S_IMODE(cache_root(str(loose)).stat().st_mode) == 0o700
    assert stat.S_IMODE(cache_root(str(tmp_path / "new")).stat().st_mode) == 0o700
    (tmp_path / "link").symlink_to(loose)
    with pytest.raises(CacheError, match=r"student\.cache_dir .*link"):
        cache_root(str(tmp_path / "link"))
