"""Kubernetes side of MKD: render the Helm chart's manifests, read RayService/RayJob status."""
