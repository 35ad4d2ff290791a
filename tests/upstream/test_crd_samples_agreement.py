"""Upstream CRD samples: every custom resource in the sample/example folders of Kueue, JobSet, KServe,
LeaderWorkerSet, Kubeflow Trainer and Gateway API must pass `mlkube validate` (schema and CEL rules).

The cases are in crd_samples.json (parsed from the upstream files at the commits it names, which are the
commits of ../shared/crds/SOURCES.md). They are judged with the carried schemas, which
tests/crd_schemas/test_generated.py proves byte-identical to `mlkube schemas import` of ../shared/crds.
A sample is expected "valid", except the few whose "why" shows the API server refuses them as well
(fields absent from the CRD at that commit): upstream's stale samples, not mlkube's disagreements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agreement import Case, SuiteResult, run_suite

from mlkube.validation import SchemaCatalog, ValidationSettings

DATA = Path(__file__).with_name("crd_samples.json")
PROJECTS = ("gateway-api", "jobset", "kserve", "kueue", "lws", "trainer")


def _cases(project: str) -> list[Case]:
    data = json.loads(DATA.read_text())
    source = data["sources"][project]
    repository = source["repository"].removeprefix("https://github.com/")
    return [Case(f"{case['path']}#{case['document']}", case["object"], case["expected"],
                 f"{repository}@{source['commit'][:12]}:{case['path']}")
            for case in data["cases"] if case["project"] == project]


def results() -> list[SuiteResult]:
    catalog = SchemaCatalog(ValidationSettings(strict_unknown_kinds=True))

    def judge(obj: dict[str, Any]) -> str:
        return "invalid" if list(catalog.validate(obj)) else "valid"

    return [run_suite(f"crd-samples/{project}", _cases(project), judge) for project in PROJECTS]


def test_agreement() -> None:
    for result in results():
        result.check(minimum=0.99)
        result.check_readme_row()


def test_stale_samples_state_why() -> None:
    data = json.loads(DATA.read_text())
    invalid = [case for case in data["cases"] if case["expected"] != "valid"]
    assert len(invalid) == 8
    assert all(case["why"].startswith("the API server refuses this upstream sample too") for case in invalid)
