variable "cluster_name" {
  description = "Name of the EKS cluster (autoscaler auto-discovery and IAM scoping use it)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "node_groups" {
  description = "Managed node groups to tag for scale-from-zero: name -> ASG name, node labels, taints (EKS effects, e.g. NO_SCHEDULE) and extended resources per node (e.g. nvidia.com/gpu = \"1\"); the eks module's autoscaling_node_groups output."
  type = map(object({
    asg_name = string
    labels   = map(string)
    taints = list(object({
      key    = string
      value  = string
      effect = string
    }))
    resources = optional(map(string), {})
  }))

  validation {
    condition = alltrue(flatten([
      for g in var.node_groups : [for t in g.taints : contains(["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"], t.effect)]
    ]))
    error_message = "node_groups taint effects must be NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE (the EKS spelling)."
  }

  validation {
    condition = alltrue(flatten([
      for g in var.node_groups : [for n in values(g.resources) : can(regex("^[1-9][0-9]*$", n))]
    ]))
    error_message = "node_groups resources must be positive whole numbers, e.g. \"1\"."
  }
}

variable "auth_mode" {
  description = "How the autoscaler gets its role: pod_identity (EKS Pod Identity association) or irsa (OIDC trust + ServiceAccount annotation)."
  type        = string
  default     = "pod_identity"

  validation {
    condition     = contains(["pod_identity", "irsa"], var.auth_mode)
    error_message = "auth_mode must be pod_identity or irsa."
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
  description = "Namespace of the autoscaler's ServiceAccount."
  type        = string
  default     = "kube-system"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label."
  }
}

variable "service_account" {
  description = "Name of the autoscaler's ServiceAccount (bound to the role)."
  type        = string
  default     = "cluster-autoscaler"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.service_account))
    error_message = "service_account must be a DNS subdomain name."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}
