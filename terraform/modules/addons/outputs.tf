output "kuberay_namespace" {
  description = "Namespace of the KubeRay operator."
  value       = helm_release.kuberay_operator.namespace
}

output "mkd_release" {
  description = "Name of the MKD Helm release (empty when not installed)."
  value       = var.install_mkd ? helm_release.mkd[0].name : ""
}

output "mkd_namespace" {
  description = "Namespace of the MKD release."
  value       = var.mkd_namespace
}
