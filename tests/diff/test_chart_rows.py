"""GitOps(source='chart'): a new chart digest an Application deploys is its own diff row, like an image."""

from __future__ import annotations

import copy

from mlkube.diff.markdown import render_markdown

ARGOCD = ("prod", "_argocd")
OLD, NEW = "sha256:" + "b" * 64, "sha256:" + "c" * 64


def application(digest: str, version: str) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "prod-scoring", "namespace": "argocd", "annotations": {"mlkube.dev/chart-version": version}},
            "spec": {"project": "ml-prod", "destination": {"namespace": "ml", "server": "https://kubernetes.default.svc"},
                     "source": {"path": ".", "repoURL": "oci://ghcr.io/acme/charts/scoring", "targetRevision": digest}}}


def application_set(digest: str, version: str) -> dict:
    element = {"folder": "scoring", "namespace": "ml", "chartRepoURL": "oci://ghcr.io/acme/charts/scoring",
               "chartDigest": digest, "chartVersion": version}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "prod", "namespace": "argocd"},
            "spec": {"generators": [{"matrix": {"generators": [{"list": {"elements": [element]}}, {"clusters": {}}]}}],
                     "template": {"metadata": {"name": "{{folder}}"}, "spec": {"source": {"path": ".", "repoURL": "{{chartRepoURL}}",
                                                                                             "targetRevision": "{{chartDigest}}"}}}}}


def test_a_new_chart_digest_of_an_application_is_its_own_row(run_diff):
    """Failing before: the Application was listed as changed with no row saying which chart it now deploys."""
    report = run_diff({ARGOCD: [application(OLD, "0.1.0-prod.c1")]}, {ARGOCD: [application(NEW, "0.1.0-prod.c2")]})
    [change] = report.changes
    assert [(row.field, row.old, row.new) for row in change.fields] == [
        ("chart", "oci://ghcr.io/acme/charts/scoring@sha256:bbbbbbbbbbbb (0.1.0-prod.c1)",
         "oci://ghcr.io/acme/charts/scoring@sha256:cccccccccccc (0.1.0-prod.c2)")]
    assert "oci://ghcr.io/acme/charts/scoring@sha256:cccccccccccc (0.1.0-prod.c2)" in render_markdown(report)


def test_each_application_set_elements_chart_is_its_own_row(run_diff):
    report = run_diff({ARGOCD: [application_set(OLD, "0.1.0-prod.c1")]}, {ARGOCD: [application_set(NEW, "0.1.0-prod.c2")]})
    [change] = report.changes
    assert ("chart scoring", "oci://ghcr.io/acme/charts/scoring@sha256:bbbbbbbbbbbb (0.1.0-prod.c1)",
            "oci://ghcr.io/acme/charts/scoring@sha256:cccccccccccc (0.1.0-prod.c2)") in [(r.field, r.old, r.new) for r in change.fields]


def test_an_unchanged_chart_gives_no_row(run_diff):
    old = application(OLD, "0.1.0-prod.c1")
    new = copy.deepcopy(old)
    new["spec"]["project"] = "ml-prod-2"
    report = run_diff({ARGOCD: [old]}, {ARGOCD: [new]})
    assert all(row.field != "chart" for change in report.changes for row in change.fields)
