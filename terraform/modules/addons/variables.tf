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
