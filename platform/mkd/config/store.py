"""Where artifacts live: a local directory or an S3 bucket (endpoint always explicit)."""

from pydantic import Field

from mkd.config.base import Section


class S3Settings(Section):
    endpoint_url: str | None = Field(
        None,
        description="S3 endpoint, e.g. http://127.0.0.1:8333 for SeaweedFS. None on AWS means "
        "the regional AWS endpoint, resolved from region (never an implicit lookup).",
    )
    region: str = Field("us-east-1", description="AWS region of the bucket.")
    access_key_id: str | None = Field(
        None, description="Use ${AWS_ACCESS_KEY_ID}; None on EKS (IRSA)."
    )
    secret_access_key: str | None = Field(
        None, description="Use ${AWS_SECRET_ACCESS_KEY}; never inline."
    )
    multipart_threshold_mb: int = Field(16, ge=5, description="Objects above this use multipart.")


class StoreConfig(Section):
    uri: str = Field(
        "file://./mkd-store",
        description="Root of the artifact store: file://PATH here, s3://BUCKET/PREFIX on a cluster.",
    )
    s3: S3Settings = Field(default_factory=S3Settings)
