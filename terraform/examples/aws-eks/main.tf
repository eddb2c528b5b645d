# MKD on EKS, end to end: network -> EKS (CPU + GPU node groups) -> node autoscaling (ASG tags,
# autoscaler role) -> S3 store -> pod role -> KubeRay, the NVIDIA device plugin, Cluster
# Autoscaler and the MKD chart. See docs/deploy-eks.md for the commands.

locals {
  store_prefix = "mkd"
  namespace    = "mkd"
  release      = "mkd"
  # The chart's ServiceAccount: <release>-mkd, or just mkd when the release is called mkd.
  service_account = local.release == "mkd" ? "mkd" : "${local.release}-mkd"
}

module "network" {
  source = "../../modules/network"
  name   = var.name
  tags   = var.tags
}

module "eks" {
  source                       = "../../modules/eks"
  cluster_name                 = var.name
  vpc_id                       = module.network.vpc_id
  subnet_ids                   = module.network.private_subnet_ids
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  gpu_instance_types           = var.gpu_instance_types
  gpu_max_size                 = var.gpu_max_size
  tags                         = var.tags
}

module "autoscaling" {
  source            = "../../modules/autoscaling"
  cluster_name      = module.eks.cluster_name
  node_groups       = module.eks.autoscaling_node_groups
  auth_mode         = var.auth_mode
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer       = module.eks.oidc_issuer
  tags              = var.tags
}

module "storage" {
  source       = "../../modules/storage"
  bucket_name  = var.bucket_name
  store_prefix = local.store_prefix
  tags         = var.tags
}

module "iam" {
  source            = "../../modules/iam"
  name              = var.name
  auth_mode         = var.auth_mode
  cluster_name      = module.eks.cluster_name
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer       = module.eks.oidc_issuer
  namespace         = local.namespace
  service_account   = local.service_account
  bucket_arn        = module.storage.bucket_arn
  kms_key_arn       = module.storage.kms_key_arn
  store_prefix      = local.store_prefix
  tags              = var.tags
}

module "addons" {
  source       = "../../modules/addons"
  cluster_name = module.eks.cluster_name
  aws_region   = var.region
  # Cluster Autoscaler, bound to the autoscaling module's role.
  cluster_autoscaler_namespace       = module.autoscaling.namespace
  cluster_autoscaler_service_account = module.autoscaling.service_account
  cluster_autoscaler_irsa_role_arn   = module.autoscaling.irsa_role_arn
  install_mkd                        = var.install_mkd
  mkd_namespace                      = local.namespace
  mkd_release                        = local.release
  mkd_values_files                   = var.mkd_values_files
  mkd_values = {
    store = {
      bucket = module.storage.bucket_name
      prefix = local.store_prefix
      region = var.region
    }
    serviceAccount = { irsaRoleArn = module.iam.irsa_role_arn }
  }
  depends_on = [module.eks, module.autoscaling]
}
