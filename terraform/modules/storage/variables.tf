variable "bucket_name" {
  description = "Name of the artifact bucket (globally unique; the chart's store.bucket)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.|^\\d+\\.\\d+\\.\\d+\\.\\d+$", var.bucket_name))
    error_message = "bucket_name must be 3-63 lowercase letters, digits, dots or hyphens, start and end with a letter or digit, and not look like an IP address."
  }
}

variable "store_prefix" {
  description = "Key prefix of the MKD store inside the bucket (the chart's store.prefix)."
  type        = string
  default     = "mkd"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]*$", var.store_prefix))
    error_message = "store_prefix must be lowercase letters, digits, dots, underscores or hyphens, without slashes."
  }
}

variable "checkpoint_expiration_days" {
  description = "Days after which objects tagged mkd.io/lifecycle=checkpoint (intermediate training checkpoints) are deleted."
  type        = number
  default     = 90

  validation {
    condition     = var.checkpoint_expiration_days >= 1
    error_message = "checkpoint_expiration_days must be at least 1."
  }
}

variable "checkpoint_noncurrent_days" {
  description = "Days a superseded (deleted or overwritten) object under runs/ is kept before it is purged."
  type        = number
  default     = 7

  validation {
    condition     = var.checkpoint_noncurrent_days >= 1
    error_message = "checkpoint_noncurrent_days must be at least 1."
  }
}

variable "checkpoint_tiering_days" {
  description = "Days after which objects under runs/ move to S3 Intelligent-Tiering."
  type        = number
  default     = 30

  validation {
    condition     = var.checkpoint_tiering_days >= 0
    error_message = "checkpoint_tiering_days must be 0 or more."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted object version is kept (undo window)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket receiving S3 server access logs; empty disables access logging."
  type        = string
  default     = ""

  validation {
    condition     = var.access_log_bucket == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be empty or a valid bucket name."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete a bucket that still holds objects (dev only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
