# Cluster add-ons for MKD: the KubeRay operator (CRDs + controller), the NVIDIA device plugin on
# the GPU node group, and the MKD chart itself.

locals {
  mkd_chart = var.mkd_chart_path != "" ? var.mkd_chart_path : "${path.module}/../../../helm/mkd"
}

resource "helm_release" "kuberay_operator" {
  name             = "kuberay-operator"
  repository       = "https://ray-project.github.io/kuberay-helm/"
  chart            = "kuberay-operator"
  version          = var.kuberay_version
  namespace        = var.kuberay_namespace
  create_namespace = true
  atomic           = true
  wait             = true
}

resource "helm_release" "nvidia_device_plugin" {
  name             = "nvidia-device-plugin"
  repository       = "https://nvidia.github.io/k8s-device-plugin"
  chart            = "nvidia-device-plugin"
  version          = var.nvidia_device_plugin_version
  namespace        = "nvidia-device-plugin"
  create_namespace = true
  atomic           = true

  # Run only on the GPU node group, whose nodes carry the nvidia.com/gpu NoSchedule taint.
  values = [yamlencode({
    nodeSelector = { "mkd.io/node-pool" = "gpu" }
    tolerations  = [{ key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" }]
  })]
}

resource "helm_release" "mkd" {
  count            = var.install_mkd ? 1 : 0
  name             = var.mkd_release
  chart            = local.mkd_chart
  namespace        = var.mkd_namespace
  create_namespace = true
  # The chart's values.schema.json refuses bad values before anything is applied.
  values = concat([for f in var.mkd_values_files : file(f)], [yamlencode(var.mkd_values)])

  depends_on = [helm_release.kuberay_operator, helm_release.nvidia_device_plugin]
}
