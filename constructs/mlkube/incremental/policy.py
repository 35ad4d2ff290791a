"""The policy rules over one environment, reusing the hits of rules that looked only at the object.

Which rules look at other objects is seen, not declared: each rule runs on a ``Target`` that records
any read of its neighbours or of the indexes shared between targets. A rule that read neither found what it found from
the object and the settings alone (both in the input digest), so its hits are kept for the next
synth; one that read them (NetworkPolicy coverage) runs every time. Same findings as
``policy.engine.check_policy``, in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.waivers import waived_rules
from ..kube.manifest import Manifest
from ..policy.engine import Finding, PolicyReport, _finding, all_rules, rules_for
from ..policy.model import Hit, PolicySettings, Rule, Target
from .store import ObjectStore

__all__ = ["check_policy_incremental"]


class _Reads:
    """Whether the rule running now read anything beyond its object."""

    def __init__(self) -> None:
        self.seen = False


class _WatchedTarget(Target):
    """A Target that records any read of the other objects (``neighbours``) or of what was built from them (``shared``,
    ``memo``): every way to them goes through these two attributes."""

    _reads: _Reads

    @property
    def neighbours(self) -> list[Manifest]:
        self._reads.seen = True
        return self._neighbours

    @neighbours.setter
    def neighbours(self, value: list[Manifest]) -> None:
        self._neighbours = value

    @property
    def shared(self) -> dict[str, Any]:
        self._reads.seen = True
        return self._shared

    @shared.setter
    def shared(self, value: dict[str, Any]) -> None:
        self._shared = value


def check_policy_incremental(manifests: Sequence[Manifest], settings: PolicySettings, store: ObjectStore) -> PolicyReport:
    """``check_policy(manifests, settings)``, with the hits of object-only rules from and into ``store``."""
    rules = all_rules()
    applicable: dict[tuple[bool, str], list[Rule]] = {}  # the rules check_policy runs, by (has pods, kind)
    reads = _Reads()
    neighbours = list(manifests)
    shared: dict[str, Any] = {}
    findings: list[Finding] = []
    for manifest in manifests:
        known = store.entry(manifest)
        reuse = known is not None and known.policy_rereads is not None
        target = _WatchedTarget(manifest, settings, neighbours, shared)
        target._reads = reads
        waivers = waived_rules(manifest.obj)
        rereads: list[str] = []
        kept: dict[str, list[tuple[str, str, str | None]]] = {}
        for rule in rules_for(target, rules, applicable):
            if reuse and rule.id not in known.policy_rereads:  # type: ignore[union-attr,operator]
                found = known.policy_hits.get(rule.id)  # type: ignore[union-attr]
                if found:
                    findings += [_finding(rule, manifest, Hit(field, message, severity), waivers)  # type: ignore[arg-type]
                                 for field, message, severity in found]
                continue
            reads.seen = False
            hits = list(rule.check(target))
            if reads.seen:
                rereads.append(rule.id)
            elif hits:
                kept[rule.id] = [(hit.field, hit.message, hit.severity) for hit in hits]
            findings += [_finding(rule, manifest, hit, waivers) for hit in hits]
        if not reuse:
            entry = store.computing(manifest)
            if entry is not None:
                entry.policy_rereads, entry.policy_hits = tuple(rereads), kept
    return PolicyReport(sorted(findings, key=Finding.sort_key), len(manifests))
