"""GitOps: environment overrides, platform objects per namespace, Argo CD objects, promotion, CI workflows.

Modules: settings (specs), chain (entry and gated environments), overrides, platform_objects,
sync_waves, controller_fields (what Argo CD leaves to controllers), argocd, promote, pinned,
workflows, steps (registration in the synth pipeline).
"""
