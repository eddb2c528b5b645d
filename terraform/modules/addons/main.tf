# Cluster add-ons for MKD: the KubeRay operator (CRDs + controller), the NVIDIA device plugin on
# the GPU node group, Cluster Autoscaler (its IAM role and ASG tags: the autoscaling module), and
# the MKD chart itself.

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

# Cluster Autoscaler: grows the GPU node group from zero when a Ray GPU worker is pending and
# shrinks it back when the GPUs sit idle. It runs on the CPU pool; its role comes from the
# autoscaling module (Pod Identity association, or the IRSA annotation below).
resource "helm_release" "cluster_autoscaler" {
  count      = var.install_cluster_autoscaler ? 1 : 0
  name       = "cluster-autoscaler"
  repository = "https://kubernetes.github.io/autoscaler"
  chart      = "cluster-autoscaler"
  version    = var.cluster_autoscaler_chart_version
  namespace  = var.cluster_autoscaler_namespace
  atomic     = true
  wait       = true

  values = [yamlencode({
    cloudProvider = "aws"
    awsRegion     = var.aws_region
    autoDiscovery = { clusterName = var.cluster_name }
    # The autoscaler's minor version should match the cluster's (kubernetes_version).
    image = { tag = var.cluster_autoscaler_image_tag }
    rbac = {
      serviceAccount = {
        create      = true
        name        = var.cluster_autoscaler_service_account
        annotations = var.cluster_autoscaler_irsa_role_arn != "" ? { "eks.amazonaws.com/role-arn" = var.cluster_autoscaler_irsa_role_arn } : {}
      }
    }
    extraArgs = {
      # g6.2xlarge and g5.2xlarge (and groups split per zone) are interchangeable for Ray.
      "balance-similar-node-groups" = true
      expander                      = "least-waste"
      "scale-down-unneeded-time"    = var.cluster_autoscaler_scale_down_unneeded_time
      # skip-nodes-with-system-pods stays at its default (true): GPU nodes only run kube-system
      # DaemonSets (which never block scale-down), so the GPU pool still reaches zero.
    }
    nodeSelector      = { "mkd.io/node-pool" = "cpu" }
    priorityClassName = "system-cluster-critical"
    podAnnotations    = { "cluster-autoscaler.kubernetes.io/safe-to-evict" = "false" }
  })]

  lifecycle {
    precondition {
      condition     = var.cluster_name != "" && var.aws_region != ""
      error_message = "install_cluster_autoscaler needs cluster_name and aws_region."
    }
  }
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
