"""The report as JSON, for CI and bots: the same content as the Markdown, with every changed path."""

from __future__ import annotations

import json
from typing import Any

from .model import DiffReport, ObjectChange

__all__ = ["report_dict", "render_json"]


def _change_dict(change: ObjectChange, report: DiffReport) -> dict[str, Any]:
    group, kind, namespace, name = change.identity
    return {
        "environment": change.environment,
        "app": change.app,
        "production": change.environment in report.production,
        "status": change.status,
        "group": group,
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "baseFile": change.base.file if change.base else None,
        "headFile": change.head.file if change.head else None,
        "movedFromApp": change.moved_from_app,
        "fields": [{"field": row.field, "old": row.old, "new": row.new} for row in change.fields],
        "otherChanges": list(change.other_paths),
        "risks": [{"level": risk.level.label, "category": risk.category, "reason": risk.reason} for risk in change.risks],
    }


def report_dict(report: DiffReport) -> dict[str, Any]:
    return {
        "base": report.base_label,
        "head": report.head_label,
        "summary": {
            "added": report.count("added"),
            "removed": report.count("removed"),
            "changed": report.count("changed"),
            "risks": {level.label: count for level, count in report.risk_counts().items()},
            "highestRisk": report.highest.label,
        },
        "changes": [_change_dict(change, report) for change in report.changes],
        "notes": list(report.notes),
        "builds": list(report.builds),
    }


def render_json(report: DiffReport) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"
