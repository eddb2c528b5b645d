terraform {
  required_version = ">= 1.6.0"

  # Exact pins for a reproducible root; modules accept ranges.
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "2.17.0"
    }
  }
}
