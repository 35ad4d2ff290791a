"""The vocabulary of the policy engine: settings, rules, what a rule looks at, and what it finds."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..kube.manifest import Manifest
from .pods import ContainerView, PodView, containers, pod_views

__all__ = ["Severity", "PolicySettings", "Hit", "Target", "Rule", "RULES", "rule", "known_rule"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class PolicySettings:
    """What an environment decides: which registries images may come from, whether digests are required."""

    #: Image reference prefixes that are allowed (``ghcr.io/acme/``); empty allows any registry.
    allowed_registries: tuple[str, ...] = ()
    #: Every image must be pinned by digest (``@sha256:...``); when False, a tag is a warning.
    require_digests: bool = False
    #: Argo CD syncs the environment automatically (self-heal re-creates what the cluster deleted).
    automated_sync: bool = False
    #: Kubernetes version (``1.34``) whose Pod Security Standard applies (safe sysctls, exemptions).
    kubernetes_version: str = "1.34"

    @property
    def version(self) -> tuple[int, int]:
        """The version as (major, minor); an unreadable one counts as the newest policy."""
        major, _, minor = self.kubernetes_version.partition(".")
        return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else (1, 10**6)


@dataclass(frozen=True)
class Hit:
    """One violation found by a rule: the field path in the object and what is wrong there."""

    field: str
    message: str
    #: Overrides the rule's severity for this hit (e.g. a digest that the environment does not require).
    severity: Severity | None = None


@dataclass
class Target:
    """One object under check, with what rules need around it (its pods, its neighbours, the settings)."""

    manifest: Manifest
    settings: PolicySettings
    #: Every object checked together (one cluster): for rules that look across objects.
    neighbours: list[Manifest] = field(default_factory=list)
    #: Shared by every target of one run: indexes over the neighbours, built once (see ``memo``).
    shared: dict[str, Any] = field(default_factory=dict)
    _pods: list[PodView] | None = None
    #: id of a pod of ``_pods`` (which keeps it alive) -> its containers.
    _containers: dict[int, list[ContainerView]] = field(default_factory=dict)

    @property
    def obj(self) -> dict[str, Any]:
        return self.manifest.obj

    @property
    def kind(self) -> str:
        return self.manifest.kind

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """A value computed once per run (e.g. NetworkPolicies by namespace), not once per object."""
        if key not in self.shared:
            self.shared[key] = build()
        return self.shared[key]

    @property
    def pods(self) -> list[PodView]:
        if self._pods is None:
            self._pods = pod_views(self.obj)
        return self._pods

    def containers_of(self, pod: PodView) -> list[ContainerView]:
        """``containers(pod)`` of one of ``pods``, listed once for every rule that reads them."""
        listed = self._containers.get(id(pod))
        if listed is None:
            listed = self._containers[id(pod)] = list(containers(pod))
        return listed


Check = Callable[[Target], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    """A policy rule with a stable ID. ``checkov`` lists the checkov checks that test the same thing,
    so that a waiver of this rule also writes checkov's own skip annotation for them."""

    id: str
    severity: Severity
    title: str
    rationale: str
    fix: str
    check: Check
    checkov: tuple[str, ...] = ()
    waivable: bool = True
    #: The rule looks only at the object's pods: it finds nothing on an object without any, where the engine skips it.
    pods_only: bool = False
    #: The kinds the rule can find something on (None: any); the engine skips it on the others.
    kinds: frozenset[str] | None = None

    @property
    def name(self) -> str:
        """PascalCase name for SARIF (``RunAsNonRoot``), from the check function's name."""
        return "".join(part.capitalize() for part in self.check.__name__.strip("_").split("_"))


#: Every rule by ID, in definition order (which is report order).
RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: Severity, title: str, *, rationale: str, fix: str,
         checkov: tuple[str, ...] = (), waivable: bool = True, pods_only: bool = False,
         kinds: Iterable[str] | None = None) -> Callable[[Check], Check]:
    """Register the decorated check function as a rule."""

    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is defined twice")
        RULES[rule_id] = Rule(rule_id, severity, title, rationale, fix, check, checkov, waivable, pods_only,
                              frozenset(kinds) if kinds is not None else None)
        return check

    return register


def known_rule(rule_id: str) -> Rule | None:
    # Every rule is registered by then: importing this module runs the package's __init__, which imports the rules first.
    return RULES.get(rule_id)
