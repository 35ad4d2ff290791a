"""The report as Markdown for a pull-request comment: summary, diagram, then per environment and app."""

from __future__ import annotations

from itertools import groupby

from .fields import ABSENT
from .mermaid import mermaid_flowchart
from .model import DiffReport, Level, ObjectChange

__all__ = ["render_markdown", "summary_line", "code", "MAX_OTHER_PATHS"]

#: Changed paths listed per object beyond the table (the JSON has all of them).
MAX_OTHER_PATHS = 6
_MARKERS = {Level.HIGH: "🔴", Level.MEDIUM: "🟠", Level.LOW: "🟡", Level.INFO: "🔵"}


def code(text: str, *, in_table: bool = False) -> str:
    """An inline code span that survives backticks in ``text`` (and pipes, inside a table cell)."""
    text = text.replace("\n", " ")
    if in_table:
        text = text.replace("|", "\\|")  # GFM splits cells before it reads code spans
    fence = "``" if "`" in text else "`"
    padding = " " if "`" in text else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _value(text: str | None) -> str:
    return f"*{ABSENT}*" if text is None else code(text, in_table=True)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_line(report: DiffReport) -> str:
    counts = report.risk_counts()
    risks = ", ".join(f"{count} {level.label}" for level, count in counts.items())
    highest = report.highest
    verdict = f"highest risk: **{highest.label}** {_MARKERS[highest]}" if highest is not Level.NONE else "no risk found"
    return (f"**{report.count('added')} added, {report.count('removed')} removed, {report.count('changed')} changed** "
            f"objects · risks: {risks} · {verdict}")


def _object_block(change: ObjectChange) -> list[str]:
    status = "affected (unchanged)" if change.status == "unchanged" else change.status
    head = f"**{status}** {_cell(change.kind)} {code(f'{change.namespace}/{change.name}' if change.namespace else change.name)}"
    if change.moved_from_app:
        head += f" (moved from app {code(change.moved_from_app)})"
    lines = [head, ""]
    if change.fields:
        lines += ["| Field | Old | New |", "| --- | --- | --- |"]
        lines += [f"| {_cell(row.field)} | {_value(row.old)} | {_value(row.new)} |" for row in change.fields]
        lines.append("")
    if change.other_paths:
        shown = ", ".join(code(path) for path in change.other_paths[:MAX_OTHER_PATHS])
        more = len(change.other_paths) - MAX_OTHER_PATHS
        lines += [f"Also changed: {shown}" + (f" and {more} more" if more > 0 else ""), ""]
    if change.status == "changed" and not change.fields and not change.other_paths and not change.moved_from_app:
        lines += ["Only rewritten in an equivalent form (a quantity in other units, an explicit default).", ""]
    if change.risks:
        lines += [f"- {_MARKERS[risk.level]} **{risk.level.label}** {risk.category}: {_cell(risk.reason)}" for risk in change.risks]
        lines.append("")
    return lines


def _app_section(environment: str, app: str, changes: list[ObjectChange]) -> list[str]:
    lines = [f"#### {_cell(environment)} / {_cell(app or '(environment-wide)')}", ""]
    quiet_adds = [change for change in changes if change.status == "added" and not change.risks and not change.fields]
    for change in changes:
        if change not in quiet_adds:
            lines += _object_block(change)
    if quiet_adds:
        names = ", ".join(f"{_cell(change.kind)} {code(f'{change.namespace}/{change.name}' if change.namespace else change.name)}"
                          for change in quiet_adds)
        lines += [f"**added** {names}", ""]
    return lines


def _builds_section(report: DiffReport) -> list[str]:
    """What CI builds after merge: entry environments carry these tags unpinned until the release pins them."""
    if not report.builds:
        return []
    return ["### Images CI builds after merge", "",
            "Built, pushed and pinned by the release workflow in the entry environments; gated environments keep "
            "their locked images until `mlkube promote`.", "", *[f"- {code(item)}" for item in report.builds], ""]


def render_markdown(report: DiffReport) -> str:
    lines = ["## mlkube diff", "", f"{code(report.base_label)} → {code(report.head_label)}", "", summary_line(report), ""]
    lines += _builds_section(report)
    if not report.changes:
        return "\n".join(lines + ["No object changed.", ""])
    diagram = mermaid_flowchart(report)
    lines += ["```mermaid", diagram, "```", ""]
    for environment, in_environment in groupby(report.changes, key=lambda change: change.environment):
        production = " (production)" if environment in report.production else ""
        lines += [f"### {_cell(environment)}{production}", ""]
        for app, in_app in groupby(in_environment, key=lambda change: change.app):
            lines += _app_section(environment, app, list(in_app))
    return "\n".join(lines).rstrip("\n") + "\n"
