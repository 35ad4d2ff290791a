"""The policy step of synth: every environment's objects against the rules, with its own settings."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .engine import PolicyReport, check_policy
from .model import PolicySettings

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["check_policy_step", "settings_for", "environment_settings", "report_into"]


def settings_for(environment: Any) -> PolicySettings:
    """The policy settings an Environment spec asks for (safe defaults for fields it does not have)."""
    registries = getattr(environment, "allowed_registries", None) or ()
    return PolicySettings(tuple(str(r) for r in registries), bool(getattr(environment, "require_pinned_images", False)),
                          kubernetes_version=str(getattr(environment, "kubernetes_version", None) or PolicySettings.kubernetes_version))


def environment_settings(ctx: SynthContext, name: str) -> PolicySettings:
    """The policy settings of one environment in synth."""
    # One environment is one cluster: NetworkPolicies of another environment cover nothing here.
    # Unpinned images are synth errors of the pinning check (which says how to pin); policy only warns.
    # Automated sync matters only where the GitOps layer writes Argo CD objects.
    environment = next((env for env in ctx.platform.environments if env.name == name), None)
    automated = ctx.platform.gitops is not None and bool(getattr(environment, "automated_sync", False))
    return dataclasses.replace(settings_for(environment), require_digests=False, automated_sync=automated)


def report_into(ctx: SynthContext, report: PolicyReport) -> None:
    """Unwaived errors fail synth (``ctx.problems``); unwaived warnings are printed (``ctx.warnings``)."""
    ctx.problems += report.problems()
    ctx.warnings += [f"{f.rule.id} {f.location} {f.manifest.describe()}: {f.field}: {f.message}" for f in report.warnings]


def check_policy_step(ctx: SynthContext) -> None:
    """Unwaived errors fail synth (``ctx.problems``); unwaived warnings are printed (``ctx.warnings``)."""
    by_environment = ctx.manifests_by_environment()
    for name, manifests in by_environment.items():
        report_into(ctx, check_policy(manifests, environment_settings(ctx, name)))
