"""The policy rules over one environment, reusing the hits of rules that looked only at the object.

Which rules look at other objects is seen, not declared: each rule runs on a ``Target`` whose
neighbours and shared indexes record any read. A rule that read neither found what it found from
the object and the settings alone (both in the input digest), so its hits are kept for the next
synth; one that read them (NetworkPolicy coverage) runs every time. Same findings as
``policy.engine.check_policy``, in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..kube.manifest import Manifest
from ..policy.engine import Finding, PolicyReport, _finding, all_rules
from ..policy.model import Hit, PolicySettings, Target
from ..core.waivers import waived_rules
from .store import ObjectStore

__all__ = ["check_policy_incremental"]


class _Reads:
    """Whether the rule running now read anything beyond its object."""

    def __init__(self) -> None:
        self.seen = False


class _WatchedList(list):  # type: ignore[type-arg]
    def __init__(self, items: Sequence[Any], reads: _Reads) -> None:
        super().__init__(items)
        self._reads = reads

    def __iter__(self) -> Iterator[Any]:
        self._reads.seen = True
        return super().__iter__()

    def __getitem__(self, index: Any) -> Any:
        self._reads.seen = True
        return super().__getitem__(index)

    def __len__(self) -> int:
        self._reads.seen = True
        return super().__len__()

    def __contains__(self, item: object) -> bool:
        self._reads.seen = True
        return super().__contains__(item)


class _WatchedDict(dict):  # type: ignore[type-arg]
    def __init__(self, reads: _Reads) -> None:
        super().__init__()
        self._reads = reads

    def __getitem__(self, key: Any) -> Any:
        self._reads.seen = True
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._reads.seen = True
        return super().__contains__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._reads.seen = True
        return super().get(key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._reads.seen = True
        super().__setitem__(key, value)


def check_policy_incremental(manifests: Sequence[Manifest], settings: PolicySettings, store: ObjectStore) -> PolicyReport:
    """``check_policy(manifests, settings)``, with the hits of object-only rules from and into ``store``."""
    rules = all_rules()
    reads = _Reads()
    neighbours = _WatchedList(manifests, reads)
    shared = _WatchedDict(reads)
    findings: list[Finding] = []
    for manifest in manifests:
        known = store.entry(manifest)
        reuse = known is not None and known.policy_rereads is not None
        target = Target(manifest, settings, neighbours, shared)
        waivers = waived_rules(manifest.obj)
        rereads: list[str] = []
        kept: dict[str, list[tuple[str, str, str | None]]] = {}
        for rule in rules:
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
