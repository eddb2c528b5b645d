variable "cluster_name" {
  description = "Name of the EKS cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and node groups (the MKD chart needs >= 1.29)."
  type        = string
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.(29|[3-9][0-9])$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version from 1.29 on, e.g. \"1.33\"."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster (network module output)."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  description = "Private subnets of the control plane ENIs and the node groups (at least two zones)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must list at least two subnet IDs (subnet-...)."
  }
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint; empty makes the endpoint private only (reach it through a VPN or bastion)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.endpoint_public_access_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "endpoint_public_access_cidrs must be IPv4 CIDRs, and not 0.0.0.0/0."
  }
}

variable "cpu_instance_types" {
  description = "Instance types of the CPU node group (Ray head, routers, data stages)."
  type        = list(string)
  default     = ["m7i.2xlarge"]

  validation {
    condition     = length(var.cpu_instance_types) > 0 && alltrue([for t in var.cpu_instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "cpu_instance_types must list instance types such as m7i.2xlarge."
  }
}

variable "cpu_min_size" {
  description = "Minimum CPU nodes (the Ray head of the serving cluster lives here: keep at least 1)."
  type        = number
  default     = 1
}

variable "cpu_desired_size" {
  description = "Initial CPU nodes (the cluster autoscaler changes it afterwards)."
  type        = number
  default     = 2
}

variable "cpu_max_size" {
  description = "Maximum CPU nodes."
  type        = number
  default     = 6
}

variable "gpu_instance_types" {
  description = "Instance types of the GPU node group (one NVIDIA GPU per Ray GPU worker pod by default)."
  type        = list(string)
  default     = ["g6.2xlarge", "g5.2xlarge"]

  validation {
    condition     = length(var.gpu_instance_types) > 0 && alltrue([for t in var.gpu_instance_types : can(regex("^(g[4-9]|p[3-6]|g[4-9][a-z]+|p[3-6][a-z]+)\\.[a-z0-9]+$", t))])
    error_message = "gpu_instance_types must list NVIDIA GPU instance types (g4dn-g6e, p3-p5 families)."
  }
}

variable "gpu_capacity_type" {
  description = "ON_DEMAND or SPOT for the GPU node group (SPOT suits RayJobs that checkpoint)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.gpu_capacity_type)
    error_message = "gpu_capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "gpu_min_size" {
  description = "Minimum GPU nodes; 0 lets the group scale to zero when no Ray GPU worker is pending."
  type        = number
  default     = 0

  validation {
    condition     = var.gpu_min_size >= 0
    error_message = "gpu_min_size must be 0 or more."
  }
}

variable "gpu_desired_size" {
  description = "Initial GPU nodes."
  type        = number
  default     = 0
}

variable "gpu_max_size" {
  description = "Maximum GPU nodes."
  type        = number
  default     = 4

  validation {
    condition     = var.gpu_max_size >= 1
    error_message = "gpu_max_size must be at least 1."
  }
}

variable "gpus_per_node" {
  description = "NVIDIA GPUs of each instance type in gpu_instance_types (the autoscaler's node template for scale-from-zero; 1 for g5/g6 .2xlarge)."
  type        = number
  default     = 1

  validation {
    condition     = var.gpus_per_node >= 1 && floor(var.gpus_per_node) == var.gpus_per_node
    error_message = "gpus_per_node must be a whole number of at least 1."
  }
}

variable "node_disk_gib" {
  description = "Root volume of each node in GiB (Ray and CUDA images are large)."
  type        = number
  default     = 200
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
