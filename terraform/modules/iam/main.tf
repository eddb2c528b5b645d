# The IAM role of the MKD pods: read/write only under the store's areas of one bucket, use of its
# KMS key through S3 only. Pods assume it through EKS Pod Identity (default) or IRSA; no static
# keys exist anywhere.

locals {
  irsa         = var.auth_mode == "irsa"
  oidc_subject = "${replace(var.oidc_issuer, "https://", "")}:sub"
  oidc_aud     = "${replace(var.oidc_issuer, "https://", "")}:aud"
  area_keys    = [for a in var.store_areas : "${var.store_prefix}/${a}/*"]
}

data "aws_iam_policy_document" "trust" {
  dynamic "statement" {
    for_each = local.irsa ? [] : [1]
    content {
      sid     = "EksPodIdentity"
      actions = ["sts:AssumeRole", "sts:TagSession"]
      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }
  dynamic "statement" {
    for_each = local.irsa ? [1] : []
    content {
      sid     = "Irsa"
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [var.oidc_provider_arn]
      }
      condition {
        test     = "StringEquals"
        variable = local.oidc_subject
        values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
      }
      condition {
        test     = "StringEquals"
        variable = local.oidc_aud
        values   = ["sts.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "pods" {
  name_prefix        = "${var.name}-pods-"
  description        = "MKD Ray pods: ${var.namespace}/${var.service_account} -> ${var.bucket_arn}/${var.store_prefix}"
  assume_role_policy = data.aws_iam_policy_document.trust.json
  tags               = var.tags

  lifecycle {
    precondition {
      condition     = !local.irsa || (var.oidc_provider_arn != "" && var.oidc_issuer != "")
      error_message = "auth_mode = irsa needs oidc_provider_arn and oidc_issuer (eks module outputs)."
    }
  }
}

data "aws_iam_policy_document" "store" {
  statement {
    sid       = "ListStoreAreas"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = concat(local.area_keys, [for a in var.store_areas : "${var.store_prefix}/${a}/"], ["${var.store_prefix}/"])
    }
  }
  statement {
    sid = "ReadWriteStoreAreas"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectTagging",
      "s3:PutObject",
      "s3:PutObjectTagging",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [for k in local.area_keys : "${var.bucket_arn}/${k}"]
  }
  statement {
    sid       = "UseStoreKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["s3.*.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "store" {
  name   = "mkd-store"
  role   = aws_iam_role.pods.id
  policy = data.aws_iam_policy_document.store.json
}

resource "aws_eks_pod_identity_association" "pods" {
  count           = local.irsa ? 0 : 1
  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = var.service_account
  role_arn        = aws_iam_role.pods.arn
  tags            = var.tags
}
