"""GitOps: environment overrides, platform objects per namespace, Argo CD objects, promotion, CI workflows.

Modules: settings (specs), overrides, platform_objects, sync_waves, argocd, lock, promote, pinned
(the production check), workflows, steps (registration in the synth pipeline).
"""
