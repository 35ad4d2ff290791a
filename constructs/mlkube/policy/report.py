"""The text report of ``mlkube validate --policy``: findings grouped by rule, with object and field."""

from __future__ import annotations

from itertools import groupby

from .engine import Finding, PolicyReport

__all__ = ["format_text", "summary_line"]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(report: PolicyReport) -> str:
    return (f"policy: {_plural(report.objects, 'object')} checked: {_plural(len(report.errors), 'error')}, "
            f"{_plural(len(report.warnings), 'warning')}, {len(report.waived)} waived")


def _finding_line(finding: Finding) -> str:
    return f"  - {finding.location} {finding.manifest.describe()}: {finding.field}: {finding.message}"


def format_text(report: PolicyReport) -> str:
    """Unwaived findings by rule (rule ID, severity, title, why, fix), then the waivers, then a summary."""
    lines: list[str] = []
    open_findings = sorted((f for f in report.findings if not f.waived), key=lambda f: (f.rule_index, f.severity))
    for _, group in groupby(open_findings, key=lambda f: (f.rule.id, f.severity)):
        items = list(group)
        rule = items[0].rule
        lines.append(f"{rule.id} [{items[0].severity}] {rule.title} ({_plural(len(items), 'finding')})")
        lines.append(f"    why: {rule.rationale}")
        lines.append(f"    fix: {rule.fix}")
        lines += [_finding_line(finding) for finding in items]
    if report.waived:
        lines.append("waived (reason written in the object):")
        lines += [f"  - {f.rule.id} {f.location} {f.manifest.describe()}: {f.field}: {f.waiver}" for f in report.waived]
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
