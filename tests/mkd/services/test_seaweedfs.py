"""The test S3 server (real SeaweedFS) holds as many buckets as the suite creates."""

from __future__ import annotations

import uuid

from mkd.services.seaweedfs import S3Server


def test_many_buckets_each_take_a_write(s3_server: S3Server) -> None:
    # Every bucket is a collection with volumes of its own; with weed mini's disk-sized
    # defaults, 8 GiB free allowed 7 volumes and CI's eighth bucket refused its first write.
    client = s3_server.client()
    names = [f"mkd-many-{uuid.uuid4().hex[:8]}" for _ in range(12)]
    for name in names:
        client.create_bucket(Bucket=name)
        client.put_object(Bucket=name, Key="k", Body=b"v")
    assert [client.get_object(Bucket=n, Key="k")["Body"].read() for n in names] == [b"v"] * 12
    for name in names:
        client.delete_object(Bucket=name, Key="k")
        client.delete_bucket(Bucket=name)


def test_the_volume_limit_is_explicit_not_sized_from_free_disk(s3_server: S3Server) -> None:
    options = (s3_server.workdir / "data" / "mini.options").read_text()
    assert "volume.max=1024" in options
    assert "master.volumeSizeLimitMB=64" in options
