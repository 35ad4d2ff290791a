"""GitOps: environment overrides, platform objects per namespace, Argo CD objects, promotion, CI workflows.

Modules: chain (entry and gated environments), platform_objects, sync_waves, controller_fields (what Argo CD
leaves to controllers), argocd, promote, pinned, workflows, steps (registration in the synth pipeline).
The specs the Platform owns (settings, tenancy) and overrides are in mlkube.core (core/gitops_settings.py,
core/tenancy.py, core/overrides.py).
"""
