"""Run the policy rules over objects that are deployed together, and honour their waivers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..core.waivers import waived_rules
from ..errors import Problem
from ..kube.manifest import Manifest
from .model import RULES, Hit, PolicySettings, Rule, Severity, Target

__all__ = ["Finding", "PolicyReport", "check_policy", "all_rules", "rules_for"]


def all_rules() -> list[Rule]:
    """Every rule, in report order (Pod Security Standard first)."""
    from . import rules as _rules  # noqa: F401  (registers the rules)

    return list(RULES.values())


@dataclass(frozen=True, eq=False)
class Finding:
    """A rule hit on one object, at one field; ``waiver`` holds the reason when the object waives the rule."""

    rule: Rule
    manifest: Manifest
    field: str
    message: str
    severity: Severity
    waiver: str = ""

    @property
    def waived(self) -> bool:
        return bool(self.waiver)

    @property
    def file(self) -> str:
        return str(getattr(self.manifest, "file", "") or "")

    @property
    def line(self) -> int | None:
        """The line of the field in its file, when the object was read from one."""
        line_of = getattr(self.manifest, "line_of", None)
        return line_of(self.field) if self.file and line_of else None

    @property
    def location(self) -> str:
        """``path/file.yaml:12`` for files, the construct path for synthesized objects."""
        return f"{self.file}:{self.line}" if self.file else self.manifest.where

    def problem(self) -> Problem:
        hint = self.rule.fix
        if self.rule.waivable:
            hint += f"; or waive it with a reason: Waiver(rule=\"{self.rule.id}\", reason=\"...\")"
        return Problem(self.location, self.field, f"{self.rule.id} {self.manifest.describe()}: {self.message}", hint)

    def sort_key(self) -> tuple[int, str, int, str, str]:
        return (self.rule_index, self.file or self.manifest.where, self.line or 0, self.field, self.message)

    @property
    def rule_index(self) -> int:
        return _rule_order()[self.rule.id]


def _rule_order() -> dict[str, int]:
    return {rule_id: index for index, rule_id in enumerate(RULES)}


@dataclass
class PolicyReport:
    """Everything the rules found, waived or not, over ``objects`` objects."""

    findings: list[Finding] = field(default_factory=list)
    objects: int = 0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if not f.waived and f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.waived and f.severity == "warning"]

    @property
    def waived(self) -> list[Finding]:
        return [f for f in self.findings if f.waived]

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def problems(self) -> list[Problem]:
        """Unwaived errors as mlkube problems (synth fails on them)."""
        return [finding.problem() for finding in self.errors]

    def extend(self, other: PolicyReport) -> None:
        self.findings = sorted([*self.findings, *other.findings], key=Finding.sort_key)
        self.objects += other.objects


def _finding(rule: Rule, manifest: Manifest, hit: Hit, waivers: dict[str, str]) -> Finding:
    reason = waivers.get(rule.id, "") if rule.waivable else ""
    # A message quotes values of the object; a malformed (or alias-expanded) one must not flood the report.
    message = hit.message if len(hit.message) <= _MAX_MESSAGE else hit.message[:_MAX_MESSAGE] + "... (shortened)"
    return Finding(rule, manifest, hit.field, message, hit.severity or rule.severity, reason)


_MAX_MESSAGE = 300


def check_policy(manifests: Sequence[Manifest], settings: PolicySettings | None = None,
                 rules: Iterable[Rule] | None = None) -> PolicyReport:
    """Check objects that live in one cluster (cross-object rules, such as NetworkPolicy coverage,
    look only among them)."""
    settings = settings or PolicySettings()
    chosen = list(rules) if rules is not None else all_rules()
    applicable: dict[tuple[bool, str], list[Rule]] = {}
    neighbours = list(manifests)
    shared: dict[str, object] = {}
    findings: list[Finding] = []
    for manifest in neighbours:
        target = Target(manifest, settings, neighbours, shared)
        waivers = waived_rules(manifest.obj)
        for rule in rules_for(target, chosen, applicable):
            findings += [_finding(rule, manifest, hit, waivers) for hit in rule.check(target)]
    return PolicyReport(sorted(findings, key=Finding.sort_key), len(neighbours))


def rules_for(target: Target, rules: list[Rule], applicable: dict[tuple[bool, str], list[Rule]]) -> list[Rule]:
    """The rules that can find something on ``target``: on an object without pods (most objects: Services,
    NetworkPolicies, ConfigMaps...) none of the ``pods_only`` ones, and only those whose ``kinds`` hold its kind.
    ``applicable`` remembers the choice per (has pods, kind) for one run over ``rules``."""
    key = (bool(target.pods), target.kind)
    chosen = applicable.get(key)
    if chosen is None:
        chosen = applicable[key] = [rule for rule in rules if (key[0] or not rule.pods_only) and (rule.kinds is None or key[1] in rule.kinds)]
    return chosen
