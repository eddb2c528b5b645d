provider "aws" {
  region = var.region
  # Credentials come from the environment (AWS_PROFILE, SSO, an assumed role): never from here.
  default_tags {
    tags = merge(var.tags, { "mkd.io/stack" = var.name })
  }
}

# Talks to the cluster created by module.eks with a short-lived token from `aws eks get-token`.
provider "helm" {
  kubernetes {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_ca_data)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
    }
  }
}
