variable "name" {
  description = "Name of the stack: the VPC, the EKS cluster and the IAM role prefix."
  type        = string
  default     = "mkd"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of every resource."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an AWS region such as us-east-1 or eu-west-1."
  }
}

variable "bucket_name" {
  description = "Globally unique name of the artifact bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 lowercase letters, digits, dots or hyphens."
  }
}

variable "auth_mode" {
  description = "How the Ray pods get AWS credentials: pod_identity or irsa."
  type        = string
  default     = "pod_identity"

  validation {
    condition     = contains(["pod_identity", "irsa"], var.auth_mode)
    error_message = "auth_mode must be pod_identity or irsa."
  }
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the EKS API (your office or VPN egress); empty: private endpoint only."
  type        = list(string)
  default     = []
}

variable "gpu_instance_types" {
  description = "GPU instance types of the GPU node group."
  type        = list(string)
  default     = ["g6.2xlarge", "g5.2xlarge"]
}

variable "gpu_max_size" {
  description = "Maximum GPU nodes."
  type        = number
  default     = 4
}

variable "install_mkd" {
  description = "Install the MKD chart (false: cluster and add-ons only)."
  type        = bool
  default     = true
}

variable "mkd_values_files" {
  description = "Values files of the MKD release, e.g. [\"../../../helm/mkd/ci/gpu-prod.yaml\"]."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
