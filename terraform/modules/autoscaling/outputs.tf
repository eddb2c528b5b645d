output "role_arn" {
  description = "ARN of the Cluster Autoscaler's IAM role."
  value       = aws_iam_role.autoscaler.arn
}

output "irsa_role_arn" {
  description = "The role ARN to annotate the autoscaler's ServiceAccount with under IRSA; empty with Pod Identity."
  value       = local.irsa ? aws_iam_role.autoscaler.arn : ""
}

output "namespace" {
  description = "Namespace of the autoscaler's ServiceAccount (the Helm release goes there)."
  value       = var.namespace
}

output "service_account" {
  description = "Name of the autoscaler's ServiceAccount (the chart's rbac.serviceAccount.name)."
  value       = var.service_account
}

output "asg_tags" {
  description = "Tags written on each node group's ASG: node group -> tag key -> value."
  value       = local.template_tags
}
