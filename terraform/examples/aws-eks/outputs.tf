output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "EKS API endpoint."
  value       = module.eks.cluster_endpoint
}

output "bucket_name" {
  description = "Artifact bucket (the chart's store.bucket)."
  value       = module.storage.bucket_name
}

output "store_uri" {
  description = "store.uri for pipeline configs run against this stack."
  value       = module.storage.store_uri
}

output "pod_role_arn" {
  description = "IAM role of the MKD pods."
  value       = module.iam.role_arn
}

output "kubeconfig_command" {
  description = "Command that points kubectl at the cluster."
  value       = "aws eks update-kubeconfig --name ${module.eks.cluster_name} --region ${var.region}"
}

output "cluster_autoscaler_role_arn" {
  description = "IAM role of Cluster Autoscaler (resizes only this cluster's tagged ASGs)."
  value       = module.autoscaling.role_arn
}
