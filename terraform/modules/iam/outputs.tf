output "role_arn" {
  description = "ARN of the pod role (the chart's serviceAccount.irsaRoleArn with IRSA)."
  value       = aws_iam_role.pods.arn
}

output "role_name" {
  description = "Name of the pod role."
  value       = aws_iam_role.pods.name
}

output "irsa_role_arn" {
  description = "The role ARN to annotate the ServiceAccount with under IRSA; empty with Pod Identity."
  value       = local.irsa ? aws_iam_role.pods.arn : ""
}
