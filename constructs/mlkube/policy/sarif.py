"""SARIF 2.1.0 output, so that code-scanning views (GitHub, GitLab, IDEs) show policy findings.

Every rule goes into ``tool.driver.rules`` with its title, rationale and fix; every finding is a
result with a physical location (file and line) when the object came from a file and a logical
location (the object, or its construct path) always. Waived findings are results with an in-source
suppression whose justification is the waiver's reason.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from .engine import Finding, PolicyReport, all_rules
from .model import Rule

__all__ = ["to_sarif", "sarif_json", "SARIF_SCHEMA_URI"]

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_INFORMATION_URI = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"


def _version() -> str:
    try:
        return metadata.version("mlkube")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": f"{rule.fix}." + (f" Waive with a reason: Waiver(rule=\"{rule.id}\", reason=\"...\")." if rule.waivable else "")},
        "defaultConfiguration": {"level": rule.severity},
        "properties": {"tags": ["security", "kubernetes"] + (["pod-security-standard"] if rule.id.startswith("MLK-PSS") else []),
                       "checkov": list(rule.checkov)},
    }


def _object_name(finding: Finding) -> str:
    """A stable name for the object: its construct path, or namespace/kind/name for files."""
    manifest = finding.manifest
    if finding.file:
        return f"{manifest.namespace or 'default'}/{manifest.kind}/{manifest.name}"
    return manifest.where


def _location(finding: Finding) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if finding.file:
        physical: dict[str, Any] = {"artifactLocation": {"uri": quote(PurePath(finding.file).as_posix())}}
        if finding.line:
            physical["region"] = {"startLine": finding.line}
        location["physicalLocation"] = physical
    location["logicalLocations"] = [{"name": finding.manifest.describe(), "fullyQualifiedName": _object_name(finding), "kind": "resource"}]
    return location


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    fingerprint = hashlib.sha256("\0".join((finding.rule.id, _object_name(finding), finding.field)).encode()).hexdigest()[:32]
    result: dict[str, Any] = {
        "ruleId": finding.rule.id,
        "ruleIndex": index[finding.rule.id],
        "level": finding.severity,
        "message": {"text": f"{finding.manifest.describe()}: {finding.message} ({finding.field})"},
        "locations": [_location(finding)],
        "partialFingerprints": {"mlkubeFinding/v1": fingerprint},
        "properties": {"field": finding.field, "object": _object_name(finding)},
    }
    if finding.waived:
        result["suppressions"] = [{"kind": "inSource", "justification": finding.waiver}]
    return result


def to_sarif(report: PolicyReport) -> dict[str, Any]:
    """The SARIF log of one policy run."""
    rules = all_rules()
    index = {rule.id: position for position, rule in enumerate(rules)}
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "mlkube", "version": _version(), "informationUri": _INFORMATION_URI,
                                "rules": [_rule(rule) for rule in rules]}},
            "results": [_result(finding, index) for finding in report.findings],
            "columnKind": "unicodeCodePoints",
        }],
    }


def sarif_json(report: PolicyReport) -> str:
    return json.dumps(to_sarif(report), indent=2, ensure_ascii=False) + "\n"
