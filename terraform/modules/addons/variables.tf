variable "kuberay_version" {
  description = "Version of the KubeRay operator chart (the MKD chart needs >= 1.5.0)."
  type        = string
  default     = "1.5.1"

  validation {
    condition     = can(regex("^1\\.([5-9]|[1-9][0-9])\\.[0-9]+$", var.kuberay_version))
    error_message = "kuberay_version must be 1.5.0 or later, e.g. \"1.5.1\"."
  }
}

variable "kuberay_namespace" {
  description = "Namespace of the KubeRay operator (the chart's networkPolicy.operatorNamespace)."
  type        = string
  default     = "kuberay"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.kuberay_namespace))
    error_message = "kuberay_namespace must be a DNS label."
  }
}

variable "nvidia_device_plugin_version" {
  description = "Version of the NVIDIA device plugin chart (advertises nvidia.com/gpu on GPU nodes)."
  type        = string
  default     = "0.17.1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.nvidia_device_plugin_version))
    error_message = "nvidia_device_plugin_version must be a version such as 0.17.1."
  }
}

variable "install_mkd" {
  description = "Install the MKD chart as well (false: only the cluster add-ons)."
  type        = bool
  default     = true
}

variable "mkd_chart_path" {
  description = "Path of the MKD Helm chart (helm/mkd in this repository)."
  type        = string
  default     = ""

  validation {
    condition     = var.mkd_chart_path == "" || can(regex("mkd/?$", var.mkd_chart_path))
    error_message = "mkd_chart_path must be empty (the repository's helm/mkd) or a path ending in mkd."
  }
}

variable "mkd_namespace" {
  description = "Namespace of the MKD release."
  type        = string
  default     = "mkd"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.mkd_namespace))
    error_message = "mkd_namespace must be a DNS label."
  }
}

variable "mkd_release" {
  description = "Helm release name of MKD (the ServiceAccount is named <release>-mkd, or mkd for release mkd)."
  type        = string
  default     = "mkd"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$", var.mkd_release))
    error_message = "mkd_release must be a lowercase name of at most 53 characters."
  }
}

variable "mkd_values" {
  description = "Chart values set from the infrastructure (store bucket, region, IRSA role...)."
  type        = any
  default     = {}
}

variable "mkd_values_files" {
  description = "Extra values files for the MKD release, applied before mkd_values (e.g. helm/mkd/ci/gpu-prod.yaml)."
  type        = list(string)
  default     = []
}

variable "install_cluster_autoscaler" {
  description = "Install Cluster Autoscaler (needs the autoscaling module's role and ASG tags)."
  type        = bool
  default     = true
}

variable "cluster_name" {
  description = "EKS cluster name (Cluster Autoscaler auto-discovery); empty only without the autoscaler."
  type        = string
  default     = ""

  validation {
    condition     = var.cluster_name == "" || can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be empty or 3-32 lowercase letters, digits or hyphens."
  }
}

variable "aws_region" {
  description = "AWS region of the cluster (Cluster Autoscaler's awsRegion); empty only without the autoscaler."
  type        = string
  default     = ""

  validation {
    condition     = var.aws_region == "" || can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be empty or a region such as eu-west-1."
  }
}

variable "cluster_autoscaler_chart_version" {
  description = "Version of the cluster-autoscaler chart (https://kubernetes.github.io/autoscaler). 9.47.0 ships appVersion 1.33.0, the default image tag (kubernetes/autoscaler charts/cluster-autoscaler/Chart.yaml at commit b44c40d4ec1c, 2025-07-04; 9.48.0-9.51.0 keep 1.33.0)."
  type        = string
  default     = "9.47.0"

  validation {
    condition     = can(regex("^9\\.[0-9]+\\.[0-9]+$", var.cluster_autoscaler_chart_version))
    error_message = "cluster_autoscaler_chart_version must be a 9.x chart version such as 9.47.0."
  }
}

variable "cluster_autoscaler_image_tag" {
  description = "Cluster Autoscaler image tag; its minor version should match the cluster's Kubernetes minor (v1.33.x for 1.33)."
  type        = string
  default     = "v1.33.0"

  validation {
    condition     = can(regex("^v1\\.[0-9]+\\.[0-9]+$", var.cluster_autoscaler_image_tag))
    error_message = "cluster_autoscaler_image_tag must look like v1.33.0."
  }
}

variable "cluster_autoscaler_namespace" {
  description = "Namespace of Cluster Autoscaler (the autoscaling module's namespace output)."
  type        = string
  default     = "kube-system"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.cluster_autoscaler_namespace))
    error_message = "cluster_autoscaler_namespace must be a DNS label."
  }
}

variable "cluster_autoscaler_service_account" {
  description = "ServiceAccount of Cluster Autoscaler (the autoscaling module's service_account output, bound to its role)."
  type        = string
  default     = "cluster-autoscaler"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.cluster_autoscaler_service_account))
    error_message = "cluster_autoscaler_service_account must be a DNS subdomain name."
  }
}

variable "cluster_autoscaler_irsa_role_arn" {
  description = "Role ARN for the autoscaler's ServiceAccount annotation under IRSA; empty with Pod Identity."
  type        = string
  default     = ""

  validation {
    condition     = var.cluster_autoscaler_irsa_role_arn == "" || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.cluster_autoscaler_irsa_role_arn))
    error_message = "cluster_autoscaler_irsa_role_arn must be empty or an IAM role ARN."
  }
}

variable "cluster_autoscaler_scale_down_unneeded_time" {
  description = "How long a node must be unneeded before Cluster Autoscaler removes it (GPU nodes are costly)."
  type        = string
  default     = "10m"

  validation {
    condition     = can(regex("^[0-9]+(s|m|h)$", var.cluster_autoscaler_scale_down_unneeded_time))
    error_message = "cluster_autoscaler_scale_down_unneeded_time must be a duration such as 10m."
  }
}
