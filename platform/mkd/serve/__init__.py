"""The Serve application's control plane, shared by the app (serving/) and its clients (the CLI,
the demo): the typed args and live configs (config), deploying and steering through the Ray
dashboard (control), the deploy-time gate check (release_gate), the rollout plan (plan) and
the typed HTTP client of the served API (client).

The Serve app itself stays in the top-level `serving` package, named by import path
(`serving.app:build_app`) in configs/serve.yaml and the chart: mkd never imports it.
"""
