variable "name" {
  description = "Name prefix of the pod role."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9+=,.@_-]{1,37}$", var.name))
    error_message = "name must be 2-38 characters valid in an IAM role name, starting with a letter."
  }
}

variable "auth_mode" {
  description = "How pods get the role: pod_identity (EKS Pod Identity association) or irsa (OIDC trust + ServiceAccount annotation)."
  type        = string
  default     = "pod_identity"

  validation {
    condition     = contains(["pod_identity", "irsa"], var.auth_mode)
    error_message = "auth_mode must be pod_identity or irsa."
  }
}

variable "cluster_name" {
  description = "EKS cluster of the Pod Identity association."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "oidc_provider_arn" {
  description = "IAM OIDC provider of the cluster (needed with auth_mode = irsa)."
  type        = string
  default     = ""

  validation {
    condition     = var.oidc_provider_arn == "" || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/.+$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be empty or an IAM OIDC provider ARN."
  }
}

variable "oidc_issuer" {
  description = "OIDC issuer URL of the cluster (needed with auth_mode = irsa)."
  type        = string
  default     = ""

  validation {
    condition     = var.oidc_issuer == "" || can(regex("^https://", var.oidc_issuer))
    error_message = "oidc_issuer must be empty or an https:// URL."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the MKD release."
  type        = string
  default     = "mkd"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label (lowercase letters, digits, hyphens; max 63)."
  }
}

variable "service_account" {
  description = "ServiceAccount the Ray pods run as (the chart's full name, `<release>-mkd`, or `mkd` for release mkd)."
  type        = string
  default     = "mkd"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.service_account))
    error_message = "service_account must be a valid Kubernetes name."
  }
}

variable "bucket_arn" {
  description = "ARN of the artifact bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN (arn:aws:s3:::name)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the bucket's KMS key."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "store_prefix" {
  description = "Key prefix of the MKD store inside the bucket."
  type        = string
  default     = "mkd"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]*$", var.store_prefix))
    error_message = "store_prefix must be lowercase letters, digits, dots, underscores or hyphens, without slashes."
  }
}

variable "store_areas" {
  description = "Top-level areas under the store prefix the pods may read and write (the store layout)."
  type        = list(string)
  # Must equal mkd.storage.STORE_AREAS (tests/terraform/test_store_areas.py): an area the code
  # writes but this list omits is AccessDenied in the cluster.
  default = ["datasets", "label-cache", "work", "reviews", "base-models", "runs", "evals", "registry", "pipelines", "feedback", "loops"]

  validation {
    condition     = length(var.store_areas) > 0 && alltrue([for a in var.store_areas : can(regex("^[a-z0-9][a-z0-9._-]*$", a))])
    error_message = "store_areas must list plain folder names such as datasets or runs."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
