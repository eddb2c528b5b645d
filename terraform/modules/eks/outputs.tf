output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "API server endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_ca_data" {
  description = "Base64 CA certificate of the API server."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (IRSA)."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer" {
  description = "OIDC issuer URL of the cluster (IRSA trust conditions)."
  value       = aws_eks_cluster.this.identity[0].oidc[0].issuer
}

output "node_role_arn" {
  description = "IAM role of the nodes."
  value       = aws_iam_role.node.arn
}

output "gpu_node_group" {
  description = "Name of the GPU node group."
  value       = aws_eks_node_group.gpu.node_group_name
}

output "autoscaling_node_groups" {
  description = "Per node group: its Auto Scaling group, node labels, taints and extended resources (the autoscaling module's node_groups)."
  value = {
    for name, ng in { cpu = aws_eks_node_group.cpu, gpu = aws_eks_node_group.gpu } : name => {
      # A managed node group has exactly one ASG.
      asg_name  = ng.resources[0].autoscaling_groups[0].name
      labels    = ng.labels
      taints    = [for t in ng.taint : { key = t.key, value = t.value, effect = t.effect }]
      resources = name == "gpu" ? { "nvidia.com/gpu" = tostring(var.gpus_per_node) } : {}
    }
  }
}
