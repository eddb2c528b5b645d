# The MKD artifact store: one bucket, versioned, encrypted with a customer-managed KMS key, never
# public, TLS only, with lifecycle rules for what grows (checkpoints, old versions, failed uploads).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

resource "aws_kms_key" "store" {
  description         = "MKD artifact store ${var.bucket_name}"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
  tags                = var.tags
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A KMS key policy's resource "*" means this key; account-root administration is AWS's default key policy, use is granted through IAM.
  #checkov:skip=CKV_AWS_111:A KMS key policy's resource "*" means this key; account-root administration is AWS's default key policy.
  #checkov:skip=CKV_AWS_356:A KMS key policy's resource "*" means this key (key policies cannot name the key's own ARN before it exists).
  # Account-level administration; use is granted to roles through IAM (the iam module).
  statement {
    sid       = "AccountAdmin"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_alias" "store" {
  name          = "alias/${var.bucket_name}"
  target_key_id = aws_kms_key.store.key_id
}

resource "aws_s3_bucket" "store" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a DR choice, not a default: datasets and runs are reproducible from the pipeline and the registry can be re-exported.
  #checkov:skip=CKV2_AWS_62:No consumer of S3 event notifications exists; stages write manifests last and poll them.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "store" {
  bucket = aws_s3_bucket.store.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "store" {
  bucket                  = aws_s3_bucket.store.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "store" {
  bucket = aws_s3_bucket.store.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "store" {
  bucket = aws_s3_bucket.store.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.store.arn
    }
    # S3 Bucket Keys cut KMS requests (and cost) for the many small label-cache objects.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "store" {
  bucket = aws_s3_bucket.store.id

  # Ray Train keeps the best k checkpoints and deletes the rest under runs/<run_id>/; with
  # versioning those deletions would otherwise be kept forever as noncurrent versions.
  rule {
    id     = "runs-superseded-checkpoints"
    status = "Enabled"
    filter {
      prefix = "${var.store_prefix}/runs/"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.checkpoint_noncurrent_days
    }
  }

  # Finished runs are rarely read again: let S3 tier them (no retrieval fee, no deletion).
  rule {
    id     = "runs-tiering"
    status = "Enabled"
    filter {
      prefix = "${var.store_prefix}/runs/"
    }
    transition {
      days          = var.checkpoint_tiering_days
      storage_class = "INTELLIGENT_TIERING"
    }
  }

  # Objects tagged mkd.io/lifecycle=checkpoint (intermediate checkpoints) expire; adapters,
  # manifests and registry artifacts are never tagged and stay.
  rule {
    id     = "expire-tagged-checkpoints"
    status = "Enabled"
    filter {
      tag {
        key   = "mkd.io/lifecycle"
        value = "checkpoint"
      }
    }
    expiration {
      days = var.checkpoint_expiration_days
    }
  }

  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.store]
}

resource "aws_s3_bucket_logging" "store" {
  count         = var.access_log_bucket == "" ? 0 : 1
  bucket        = aws_s3_bucket.store.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3-access/${var.bucket_name}/"
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.store.arn,
      "${aws_s3_bucket.store.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "store" {
  bucket     = aws_s3_bucket.store.id
  policy     = data.aws_iam_policy_document.tls_only.json
  depends_on = [aws_s3_bucket_public_access_block.store]
}
