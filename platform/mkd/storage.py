"""One URI-based artifact store over local directories (file://) and S3 buckets (s3://).

Guarantees both backends keep:
- atomic writes: a reader sees the whole object or nothing (temp file + rename; S3 objects
  appear only when their upload completes);
- put-if-absent for immutable artifacts (hard link on disk; `If-None-Match: *` on S3);
- compare-and-swap on an ETag for the few mutable documents (registry stages);
- an explicit S3 endpoint: a client never falls back to looking up AWS hosts by itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from mkd.config.store import S3Settings, StoreConfig

# The store's top-level areas: the first segment of every key MKD reads or writes. In a cluster
# the pod role may touch nothing else (terraform/modules/iam `store_areas`), so a key under an
# area missing here is AccessDenied there. Add a new area here first: tests/terraform/
# test_store_areas.py then names the Terraform default and the docs that must list it too.
STORE_AREAS = (
    "datasets",  # finished dataset versions (mkd.data.manifest)
    "label-cache",  # teacher labels by content hash (mkd.data.label_cache)
    "work",  # a dataset build's intermediate files (mkd.data.build)
    "reviews",  # imported human review rows (mkd.data.review)
    "base-models",  # base-model tokenizer + manifest by weights digest (mkd.models.stored)
    "runs",  # training runs: adapter, checkpoints, metrics (mkd.training.outputs)
    "evals",  # evaluation and export reports (mkd.evaluation.job, mkd.export.job)
    "registry",  # model versions and their stages (mkd.registry)
    "pipelines",  # pipeline runner state, one document per pipeline (mkd.pipeline.runner)
    "feedback",  # teacher answers the serving Router obtained (serving/capture.py)
    "loops",  # `mkd loop` reports: v(N) vs v(N+1) (mkd.pipeline.loop_report)
)


class AlreadyExists(FileExistsError):
    """put(..., if_absent=True) found the key taken: immutable artifacts are never overwritten."""


class PreconditionFailed(RuntimeError):
    """A compare-and-swap lost: the object changed since it was read. Re-read and retry."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Store(ABC):
    """Keys are '/'-separated paths relative to the store's root URI."""

    uri: str

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, if_absent: bool = False) -> str:
        """Write `data` atomically; returns its sha256. AlreadyExists if if_absent and taken."""

    @abstractmethod
    def put_file(self, key: str, path: str | Path, if_absent: bool = False) -> str:
        """Upload a local file atomically (multipart on S3 when large); returns its sha256."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError naming the key when missing."""

    @abstractmethod
    def get_file(self, key: str, dest: str | Path) -> Path:
        """Download to `dest` (atomically); returns dest."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Every key under `prefix`, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def get_versioned(self, key: str) -> tuple[bytes, str]:
        """(bytes, etag) for a later compare-and-swap."""

    @abstractmethod
    def put_if_match(self, key: str, data: bytes, etag: str | None) -> str:
        """Replace the object only if its etag is still `etag` (None: only if absent).

        Returns the new etag; PreconditionFailed when another writer got there first.
        """

    @abstractmethod
    def pyarrow_fs(self) -> tuple[Any, str]:
        """(pyarrow FileSystem, base path) for Ray Train's storage_path/storage_filesystem."""

    def put_json(self, key: str, obj: Any, if_absent: bool = False) -> str:
        data = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True).encode()
        return self.put_bytes(key, data, if_absent=if_absent)

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def uri_for(self, key: str) -> str:
        return f"{self.uri.rstrip('/')}/{key.lstrip('/')}"

    def put_dir(
        self, prefix: str, directory: str | Path, if_absent: bool = False
    ) -> dict[str, str]:
        """Upload every file under `directory` to prefix/<relative path>; returns sha256 by key."""
        directory = Path(directory)
        out = {}
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(directory).as_posix()}"
            out[key] = self.put_file(key, path, if_absent=if_absent)
        return out

    def get_dir(self, prefix: str, directory: str | Path) -> Path:
        """Download every key under prefix into `directory`, keeping relative paths."""
        directory = Path(directory)
        base = prefix.rstrip("/") + "/"
        for key in self.list(base):
            self.get_file(key, directory / key[len(base) :])
        return directory


class LocalStore(Store):
    """A directory on a local or shared filesystem."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.uri = f"file://{self.root}"

    def _path(self, key: str) -> Path:
        path = (self.root / key.lstrip("/")).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"key {key!r} escapes the store root")
        return path

    def _write(self, key: str, write, if_absent: bool) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.partial")
        try:
            write(tmp)
            if if_absent:
                try:
                    os.link(tmp, dest)  # atomic, and fails if dest exists
                except FileExistsError:
                    raise AlreadyExists(f"{self.uri_for(key)} already exists") from None
            else:
                os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes, if_absent: bool = False) -> str:
        self._write(key, lambda p: p.write_bytes(data), if_absent)
        return sha256_bytes(data)

    def put_file(self, key: str, path: str | Path, if_absent: bool = False) -> str:
        import shutil

        self._write(key, lambda p: shutil.copyfile(path, p), if_absent)
        return sha256_file(path)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise FileNotFoundError(f"{self.uri_for(key)} does not exist") from None

    def get_file(self, key: str, dest: str | Path) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.partial")
        tmp.write_bytes(self.get_bytes(key))
        tmp.replace(dest)
        return dest

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        base = self._path(prefix) if prefix else self.root
        search = base if base.is_dir() else base.parent
        if not search.exists():
            return []
        keys = (
            p.relative_to(self.root).as_posix()
            for p in search.rglob("*")
            if p.is_file() and not p.name.endswith(".partial")
        )
        return sorted(k for k in keys if k.startswith(prefix.lstrip("/")))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self, key: str):
        lock = self._path(key).with_name(f".{self._path(key).name}.lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        data = self.get_bytes(key)
        return data, sha256_bytes(data)

    def put_if_match(self, key: str, data: bytes, etag: str | None) -> str:
        with self._locked(key):
            current = sha256_bytes(self._path(key).read_bytes()) if self.exists(key) else None
            if current != etag:
                raise PreconditionFailed(f"{self.uri_for(key)} changed since it was read")
            self._write(key, lambda p: p.write_bytes(data), if_absent=False)
        return sha256_bytes(data)

    def pyarrow_fs(self) -> tuple[Any, str]:
        import pyarrow.fs

        return pyarrow.fs.LocalFileSystem(), str(self.root)


class S3Store(Store):
    """A bucket (and optional prefix) on S3 or an S3-compatible server (SeaweedFS, MinIO)."""

    def __init__(self, uri: str, settings: S3Settings | None = None) -> None:
        self.settings = settings or S3Settings()
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"store uri {uri!r}: no bucket (expected s3://BUCKET[/PREFIX])")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = make_s3_client(self.settings)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key.lstrip('/')}" if self.prefix else key.lstrip("/")

    def _error_code(self, exc: Exception) -> str:
        return getattr(exc, "response", {}).get("Error", {}).get("Code", "")

    def put_bytes(self, key: str, data: bytes, if_absent: bool = False) -> str:
        extra = {"IfNoneMatch": "*"} if if_absent else {}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)
        except self.client.exceptions.ClientError as exc:
            if self._error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise AlreadyExists(f"{self.uri_for(key)} already exists") from None
            raise
        return sha256_bytes(data)

    def put_file(self, key: str, path: str | Path, if_absent: bool = False) -> str:
        size = os.path.getsize(path)
        if size < self.settings.multipart_threshold_mb * 1024 * 1024:
            return self.put_bytes(key, Path(path).read_bytes(), if_absent=if_absent)
        return self._multipart(key, Path(path), if_absent)

    def _multipart(self, key: str, path: Path, if_absent: bool) -> str:
        """Multipart upload: the object becomes visible only at CompleteMultipartUpload."""
        part_size = self.settings.multipart_threshold_mb * 1024 * 1024
        s3_key = self._key(key)
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=s3_key)
        upload_id, parts, h = upload["UploadId"], [], hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                for number, chunk in enumerate(iter(lambda: fh.read(part_size), b""), start=1):
                    h.update(chunk)
                    etag = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=s3_key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                    )["ETag"]
                    parts.append({"ETag": etag, "PartNumber": number})
            if if_absent and self.exists(key):
                raise AlreadyExists(f"{self.uri_for(key)} already exists")
            extra = {"IfNoneMatch": "*"} if if_absent else {}
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=s3_key, UploadId=upload_id,
                MultipartUpload={"Parts": parts}, **extra,
            )  # fmt: skip
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=s3_key, UploadId=upload_id
                )
            raise
        return h.hexdigest()

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"{self.uri_for(key)} does not exist") from None

    def get_file(self, key: str, dest: str | Path) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.partial")
        try:
            self.client.download_file(self.bucket, self._key(key), str(tmp))
        except self.client.exceptions.ClientError as exc:
            if self._error_code(exc) in ("404", "NoSuchKey"):
                raise FileNotFoundError(f"{self.uri_for(key)} does not exist") from None
            raise
        tmp.replace(dest)
        return dest

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except self.client.exceptions.ClientError as exc:
            if self._error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def list(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            keys += [obj["Key"][strip:] for obj in page.get("Contents", [])]
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"{self.uri_for(key)} does not exist") from None
        return obj["Body"].read(), obj["ETag"]

    def put_if_match(self, key: str, data: bytes, etag: str | None) -> str:
        extra = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            out = self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)
        except self.client.exceptions.ClientError as exc:
            if self._error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise PreconditionFailed(f"{self.uri_for(key)} changed since it was read") from None
            raise
        return out["ETag"]

    def pyarrow_fs(self) -> tuple[Any, str]:
        import pyarrow.fs

        s = self.settings
        kwargs: dict[str, Any] = {"region": s.region}
        if s.access_key_id:
            kwargs.update(access_key=s.access_key_id, secret_key=s.secret_access_key)
        if s.endpoint_url:
            scheme, _, host = s.endpoint_url.partition("://")
            kwargs.update(endpoint_override=host.rstrip("/"), scheme=scheme)
        return pyarrow.fs.S3FileSystem(**kwargs), f"{self.bucket}/{self.prefix}".rstrip("/")


def make_s3_client(settings: S3Settings) -> Any:
    """A boto3 S3 client with an explicit endpoint (the regional AWS one when none is set)."""
    import boto3
    from botocore.config import Config

    endpoint = settings.endpoint_url or f"https://s3.{settings.region}.amazonaws.com"
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        config=Config(
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def open_store(target: StoreConfig | str, s3: S3Settings | None = None) -> Store:
    """Open the store named by a StoreConfig or a URI (file://PATH, a plain path, s3://BUCKET/PREFIX)."""
    if isinstance(target, StoreConfig):
        target, s3 = target.uri, target.s3
    if target.startswith("s3://"):
        return S3Store(target, s3)
    if target.startswith("file://"):
        target = target.removeprefix("file://")
    elif "://" in target:
        raise ValueError(f"store uri {target!r}: scheme must be file:// or s3://")
    return LocalStore(target)
