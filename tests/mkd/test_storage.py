"""The artifact store against a real S3 server (SeaweedFS) and a local directory."""

from __future__ import annotations

import os

import pytest
from mkd.config.store import S3Settings
from mkd.services.seaweedfs import S3Server
from mkd.storage import AlreadyExists, PreconditionFailed, S3Store, Store, open_store, sha256_bytes

pytestmark = pytest.mark.integration


def s3_settings(server: S3Server, secret: str | None = None, threshold_mb: int = 5) -> S3Settings:
    return S3Settings(
        endpoint_url=server.endpoint_url,
        access_key_id=server.access_key,
        secret_access_key=secret or server.secret_key,
        multipart_threshold_mb=threshold_mb,
    )


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> Store:
    if request.param == "local":
        return open_store(f"file://{tmp_path / 'store'}")
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return open_store(f"s3://{bucket}/root", s3_settings(server))


def test_round_trip_and_listing(store: Store, tmp_path) -> None:
    digest = store.put_bytes("datasets/a/1/train.jsonl", b'{"x": 1}\n')
    store.put_json("datasets/a/1/manifest.json", {"ok": True})
    store.put_bytes("datasets/b/1/train.jsonl", b"")
    assert digest == sha256_bytes(b'{"x": 1}\n')
    assert store.get_bytes("datasets/a/1/train.jsonl") == b'{"x": 1}\n'
    assert store.get_json("datasets/a/1/manifest.json") == {"ok": True}
    assert store.list("datasets/a/") == ["datasets/a/1/manifest.json", "datasets/a/1/train.jsonl"]
    assert store.exists("datasets/b/1/train.jsonl")
    assert not store.exists("datasets/c/1/train.jsonl")
    with pytest.raises(FileNotFoundError, match="datasets/c"):
        store.get_bytes("datasets/c/1/train.jsonl")
    dest = store.get_file("datasets/a/1/train.jsonl", tmp_path / "out" / "t.jsonl")
    assert dest.read_bytes() == b'{"x": 1}\n'


def test_put_if_absent_refuses_overwrite(store: Store) -> None:
    store.put_bytes("registry/m/1/manifest.json", b"first", if_absent=True)
    with pytest.raises(AlreadyExists):
        store.put_bytes("registry/m/1/manifest.json", b"second", if_absent=True)
    assert store.get_bytes("registry/m/1/manifest.json") == b"first"


def test_compare_and_swap_loses_no_update(store: Store) -> None:
    store.put_if_match("registry/m/stages.json", b"v0", None)
    _, etag = store.get_versioned("registry/m/stages.json")
    store.put_if_match("registry/m/stages.json", b"v1", etag)  # first writer wins
    with pytest.raises(PreconditionFailed):
        store.put_if_match("registry/m/stages.json", b"v1-other", etag)  # stale etag loses
    assert store.get_bytes("registry/m/stages.json") == b"v1"


def test_wrong_secret_key_is_refused(s3_server: S3Server, s3_bucket: str) -> None:
    bad = S3Store(f"s3://{s3_bucket}", s3_settings(s3_server, secret="not-the-secret"))
    with pytest.raises(Exception, match=r"SignatureDoesNotMatch|AccessDenied|InvalidAccessKey"):
        bad.put_bytes("x", b"y")


@pytest.mark.slow
def test_large_object_multipart(s3_server: S3Server, s3_bucket: str, tmp_path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(50 * 1024 * 1024))
    store = S3Store(f"s3://{s3_bucket}/big", s3_settings(s3_server, threshold_mb=8))
    digest = store.put_file("blob.bin", big, if_absent=True)
    back = store.get_file("blob.bin", tmp_path / "back.bin")
    assert back.stat().st_size == 50 * 1024 * 1024
    assert digest == sha256_bytes(big.read_bytes()) == sha256_bytes(back.read_bytes())
    with pytest.raises(AlreadyExists):
        store.put_file("blob.bin", big, if_absent=True)


def test_interrupted_multipart_upload_leaves_no_object(
    s3_server: S3Server, s3_bucket: str, tmp_path, monkeypatch
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    store = S3Store(f"s3://{s3_bucket}", s3_settings(s3_server, threshold_mb=5))
    real_upload_part = store.client.upload_part
    calls = {"n": 0}

    def dies_on_second_part(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process is stopped half-way through the upload
        return real_upload_part(**kwargs)

    monkeypatch.setattr(store.client, "upload_part", dies_on_second_part)
    with pytest.raises(KeyboardInterrupt):
        store.put_file("half.bin", big)
    assert calls["n"] == 2
    assert not store.exists("half.bin")
    assert store.list("") == []


def test_interrupted_local_write_leaves_no_file(tmp_path) -> None:
    store = open_store(str(tmp_path / "store"))

    class Boom(Exception):
        pass

    def half_write(path):
        path.write_bytes(b"half")
        raise Boom

    with pytest.raises(Boom):
        store._write("runs/r1/manifest.json", half_write, if_absent=False)
    assert not store.exists("runs/r1/manifest.json")
    assert store.list("") == []


def test_pyarrow_filesystem_reaches_the_same_bucket(s3_server: S3Server, s3_bucket: str) -> None:
    store = S3Store(f"s3://{s3_bucket}/ray", s3_settings(s3_server))
    fs, base = store.pyarrow_fs()
    with fs.open_output_stream(f"{base}/checkpoints/x.txt") as fh:
        fh.write(b"from pyarrow")
    assert store.get_bytes("checkpoints/x.txt") == b"from pyarrow"


def test_bad_store_uri_names_the_problem() -> None:
    with pytest.raises(ValueError, match="scheme"):
        open_store("gs://bucket")
    with pytest.raises(ValueError, match="no bucket"):
        open_store("s3://")
