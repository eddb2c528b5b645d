# Node autoscaling on AWS for Cluster Autoscaler: the node-template tags on each managed node
# group's Auto Scaling group (EKS does not copy node group tags to the ASG, so a group at zero
# nodes would otherwise be invisible to scale-from-zero), and the autoscaler's IAM role, allowed
# to resize only the ASGs tagged as owned by this cluster. The Helm release is in the addons
# module (every Helm release lives there); see README.md.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  irsa         = var.auth_mode == "irsa"
  oidc_subject = "${replace(var.oidc_issuer, "https://", "")}:sub"
  oidc_aud     = "${replace(var.oidc_issuer, "https://", "")}:aud"
  owned_tag    = "k8s.io/cluster-autoscaler/${var.cluster_name}"
  # EKS writes taint effects as NO_SCHEDULE; Kubernetes (and the node-template tag) as NoSchedule.
  effects = {
    NO_SCHEDULE        = "NoSchedule"
    NO_EXECUTE         = "NoExecute"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
  }

  # node group -> tag key -> value. Keys come from the node groups' names, label keys and taint
  # keys (all known at plan time); only the ASG name is known after apply.
  template_tags = {
    for ng, g in var.node_groups : ng => merge(
      {
        "k8s.io/cluster-autoscaler/enabled" = "true"
        (local.owned_tag)                   = "owned"
      },
      { for k, v in g.labels : "k8s.io/cluster-autoscaler/node-template/label/${k}" => v },
      { for t in g.taints : "k8s.io/cluster-autoscaler/node-template/taint/${t.key}" => "${t.value}:${lookup(local.effects, t.effect, t.effect)}" },
      { for r, n in g.resources : "k8s.io/cluster-autoscaler/node-template/resources/${r}" => n },
    )
  }

  asg_tags = merge([
    for ng, tags in local.template_tags : {
      for k, v in tags : "${ng}|${k}" => { asg = var.node_groups[ng].asg_name, key = k, value = v }
    }
  ]...)
}

# --- ASG tags (scale from zero) --------------------------------------------------------------

resource "aws_autoscaling_group_tag" "node_template" {
  for_each               = local.asg_tags
  autoscaling_group_name = each.value.asg

  tag {
    key   = each.value.key
    value = each.value.value
    # Read by the autoscaler from the ASG only; instances get labels and taints from EKS.
    propagate_at_launch = false
  }
}

# --- IAM role of the autoscaler ----------------------------------------------------------------

data "aws_iam_policy_document" "trust" {
  dynamic "statement" {
    for_each = local.irsa ? [] : [1]
    content {
      sid     = "EksPodIdentity"
      actions = ["sts:AssumeRole", "sts:TagSession"]
      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }
  dynamic "statement" {
    for_each = local.irsa ? [1] : []
    content {
      sid     = "Irsa"
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [var.oidc_provider_arn]
      }
      condition {
        test     = "StringEquals"
        variable = local.oidc_subject
        values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
      }
      condition {
        test     = "StringEquals"
        variable = local.oidc_aud
        values   = ["sts.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "autoscaler" {
  name_prefix        = "${substr(var.cluster_name, 0, 24)}-ca-"
  description        = "Cluster Autoscaler of ${var.cluster_name}: ${var.namespace}/${var.service_account}"
  assume_role_policy = data.aws_iam_policy_document.trust.json
  tags               = var.tags

  lifecycle {
    precondition {
      condition     = !local.irsa || (var.oidc_provider_arn != "" && var.oidc_issuer != "")
      error_message = "auth_mode = irsa needs oidc_provider_arn and oidc_issuer (eks module outputs)."
    }
  }
}

data "aws_iam_policy_document" "autoscaler" {
  # Writes: only ASGs of this account and region that carry this cluster's autoscaler tags.
  statement {
    sid = "ResizeOwnedGroups"
    actions = [
      "autoscaling:SetDesiredCapacity",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    resources = ["arn:${data.aws_partition.current.partition}:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.owned_tag}"
      values   = ["owned"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled"
      values   = ["true"]
    }
  }
  # Reads the autoscaler needs for discovery and node templates; these actions have no
  # resource-level permissions, so "*" is the only resource IAM accepts for them.
  statement {
    sid = "DescribeForDiscovery"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
    ]
    resources = ["*"]
  }
  # Managed node group labels and taints (complements the ASG tags): this cluster's groups only.
  statement {
    sid       = "DescribeOwnNodegroups"
    actions   = ["eks:DescribeNodegroup"]
    resources = ["arn:${data.aws_partition.current.partition}:eks:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:nodegroup/${var.cluster_name}/*/*"]
  }
}

resource "aws_iam_role_policy" "autoscaler" {
  name   = "cluster-autoscaler"
  role   = aws_iam_role.autoscaler.id
  policy = data.aws_iam_policy_document.autoscaler.json
}

resource "aws_eks_pod_identity_association" "autoscaler" {
  count           = local.irsa ? 0 : 1
  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = var.service_account
  role_arn        = aws_iam_role.autoscaler.arn
  tags            = var.tags
}
