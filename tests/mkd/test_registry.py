"""The model registry on a real S3 server (SeaweedFS) and on a local directory."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from mkd.config.store import S3Settings
from mkd.registry import Registry, RegistryError, parse_ref
from mkd.storage import AlreadyExists, open_store
from mkd.store_layout import version_prefix


@pytest.fixture
def s3_registry(s3_server, s3_bucket) -> Registry:
    settings = S3Settings(
        endpoint_url=s3_server.endpoint_url,
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
    )
    return Registry(open_store(f"s3://{s3_bucket}/mkd", s3=settings))


@pytest.fixture
def local_registry(tmp_path: Path) -> Registry:
    return Registry(open_store(f"file://{tmp_path / 'store'}"))


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _passed(ok: bool = True) -> dict:
    return {"variant": "adapter", "gates": {"passed": ok, "results": []}}


def test_parse_ref_accepts_the_three_forms_and_names_bad_ones():
    assert parse_ref("finance-student") == ("finance-student", None, None)
    assert parse_ref("finance-student:3") == ("finance-student", 3, None)
    assert parse_ref("finance-student@production") == ("finance-student", None, "production")
    with pytest.raises(RegistryError, match="unknown stage 'prod'"):
        parse_ref("finance-student@prod")
    with pytest.raises(RegistryError, match="expected NAME"):
        parse_ref("a b")


@pytest.mark.integration
def test_a_version_cannot_be_overwritten_on_s3(s3_registry: Registry, tmp_path: Path):
    v1 = s3_registry.register("m", _passed(), {"adapter/a.bin": _file(tmp_path, "a", "one")})
    assert v1.version == 1 and v1.manifest["files"]["adapter/a.bin"]["sha256"]
    store = s3_registry.store
    with pytest.raises(AlreadyExists):
        store.put_json(version_prefix("m", 1) + "manifest.json", {"evil": True}, if_absent=True)
    with pytest.raises(AlreadyExists):
        store.put_file(version_prefix("m", 1) + "adapter/a.bin", _file(tmp_path, "b", "two"), True)
    assert store.get_bytes(version_prefix("m", 1) + "adapter/a.bin") == b"one"
    assert s3_registry.get("m", 1).manifest["variant"] == "adapter"
    assert s3_registry.register("m", _passed()).version == 2  # a new number, never a rewrite


@pytest.mark.integration
def test_concurrent_promotions_keep_every_update_on_s3(s3_registry: Registry):
    versions = [s3_registry.register("m", _passed()).version for _ in range(6)]
    barrier = threading.Barrier(len(versions))
    errors: list[BaseException] = []

    def promote(v: int) -> None:
        try:
            barrier.wait()
            s3_registry.promote(f"m:{v}", "archived" if v % 2 else "rejected", reason=f"t{v}")
        except BaseException as exc:  # collected: a thread's exception would vanish
            errors.append(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stages = {mv.version: mv.stage for mv in s3_registry.list("m")}
    assert stages == {v: "archived" if v % 2 else "rejected" for v in versions}
    promotions = [e for e in s3_registry.history("m") if e["action"] == "promote"]
    assert sorted(e["version"] for e in promotions) == versions
    assert [e["seq"] for e in s3_registry.history("m")] == list(range(1, 13))


@pytest.mark.integration
def test_a_failed_export_leaves_no_version_visible_on_s3(s3_registry: Registry, tmp_path: Path):
    class Boom(RuntimeError):
        pass

    store = s3_registry.store
    real_put_file = store.put_file

    def failing_put_file(key, path, if_absent=False):
        if key.endswith("model.gguf"):
            raise Boom("disk full")
        return real_put_file(key, path, if_absent)

    store.put_file = failing_put_file
    files = {
        "master/config.json": _file(tmp_path, "c", "{}"),
        "model.gguf": _file(tmp_path, "g", "x"),
    }
    with pytest.raises(Boom):
        s3_registry.register("m", _passed(), files)
    store.put_file = real_put_file
    assert s3_registry.versions("m") == []
    assert s3_registry.names() == []
    with pytest.raises(RegistryError, match="no versions"):
        s3_registry.resolve("m")
    assert s3_registry.register("m", _passed()).version == 2  # the failed number is skipped


def test_gate_failed_promotion_refused_unless_forced_with_a_reason(local_registry: Registry):
    bad = local_registry.register("m", _passed(False), stage="rejected", reason="gates failed")
    with pytest.raises(RegistryError, match="failed its gates"):
        local_registry.promote(bad.ref, "production")
    with pytest.raises(RegistryError, match="must give a reason"):
        local_registry.promote(bad.ref, "production", force=True)
    event = local_registry.promote(bad.ref, "production", reason="hotfix, CTO sign-off", force=True)
    assert event["forced"] and event["reason"] == "hotfix, CTO sign-off"
    assert local_registry.resolve("m@production").version == bad.version
    local_registry.promote(bad.ref, "archived")  # leaving the gated stages needs no force


def test_production_is_exclusive_and_rollback_restores_the_previous(local_registry: Registry):
    v1, v2 = (local_registry.register("m", _passed()) for _ in range(2))
    local_registry.promote(v1.ref, "production")
    local_registry.promote(v2.ref, "production")
    assert local_registry.get("m", 1).stage == "archived"
    assert local_registry.resolve("m@production").version == 2
    event = local_registry.rollback("m", reason="agreement fell")
    assert event["rolled_back"] == 2 and event["version"] == 1
    assert local_registry.resolve("m@production").version == 1
    assert local_registry.get("m", 2).stage == "archived"
    actions = [e["action"] for e in local_registry.history("m")]
    assert actions == ["register", "register", "promote", "promote", "rollback"]


def test_resolve_names_what_is_missing(local_registry: Registry):
    local_registry.register("m", _passed())
    assert local_registry.resolve("m@candidate").version == 1
    with pytest.raises(RegistryError, match="no version in stage 'canary'"):
        local_registry.resolve("m@canary")
    with pytest.raises(RegistryError, match=r"m:7 does not exist \(versions: \[1\]\)"):
        local_registry.resolve("m:7")
    with pytest.raises(RegistryError, match=r"has no version in production"):
        local_registry.rollback("m")
