"""GitHub Actions workflows of the config repo, rendered with ruamel.yaml (YAML 1.2: ``on:`` stays a string).

Three workflows: ``config-repo-pr.yml`` (synth, validate, post the ``mlkube diff`` summary),
``config-repo-release.yml`` (on main: build the images of ``images.json``, scan, push, sign, pin,
open a pull request with the pinned manifests) and ``config-repo-promote.yml`` (manual, reviewed
promotion through the ``production`` GitHub environment). Synth writes them to
``<out>/.github/workflows/``; ``mlkube workflows`` writes them to ``.github/workflows/``.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from .settings import GitOps

__all__ = ["ACTIONS", "WORKFLOWS_FOLDER", "render_workflows", "workflows"]

WORKFLOWS_FOLDER = ".github/workflows"  # hidden: `mlkube validate dist` skips it
#: Third-party actions, pinned by major version (swap in commit SHAs here; nothing else names versions).
ACTIONS = {
    "checkout": "actions/checkout@v4",
    "setup-python": "actions/setup-python@v5",
    "setup-node": "actions/setup-node@v4",
    "upload-artifact": "actions/upload-artifact@v4",
    "download-artifact": "actions/download-artifact@v4",
    "sticky-comment": "marocchino/sticky-pull-request-comment@v2",
    "setup-buildx": "docker/setup-buildx-action@v3",
    "login": "docker/login-action@v3",
    "build-push": "docker/build-push-action@v6",
    "trivy": "aquasecurity/trivy-action@0.28.0",
    "cosign": "sigstore/cosign-installer@v3",
    "create-pr": "peter-evans/create-pull-request@v7",
}


def _run(*lines: str) -> LiteralScalarString | str:
    return LiteralScalarString("\n".join(lines) + "\n") if len(lines) > 1 else lines[0]


def _setup(gitops: GitOps, fetch_depth: int | None = None) -> list[dict[str, Any]]:
    checkout: dict[str, Any] = {"uses": ACTIONS["checkout"]}
    if fetch_depth is not None:
        checkout["with"] = {"fetch-depth": fetch_depth}
    return [checkout,
            {"uses": ACTIONS["setup-python"], "with": {"python-version": "3.11"}},
            {"uses": ACTIONS["setup-node"], "with": {"node-version": "20"}},
            {"name": "Install mlkube", "run": gitops.ci_install}]


def _pull_request(gitops: GitOps) -> dict[str, Any]:
    out = gitops.path
    return {
        "name": "config repo: pull request",
        "on": {"pull_request": {"branches": ["main"]}},
        "permissions": {"contents": "read", "pull-requests": "write"},
        "concurrency": {"group": "config-pr-${{ github.event.pull_request.number }}", "cancel-in-progress": True},
        "jobs": {"synth": {"runs-on": "ubuntu-24.04", "timeout-minutes": 30, "steps": [
            *_setup(gitops, fetch_depth=0),
            # Entry environments carry the new content tags until the release pins them; gated ones keep their lock.
            {"name": "Synthesize", "env": {"MLKUBE_ALLOW_UNPINNED": "1"}, "run": "mlkube synth"},
            {"name": f"{out}/ is committed fresh", "run": f"git diff --exit-code -- {out}"},
            {"name": "Validate", "run": f"mlkube validate --strict {out}"},
            {"name": "Summarize the change", "run": _run(
                f'mlkube diff "origin/${{{{ github.base_ref }}}}:{out}" "HEAD:{out}" --format markdown > "$RUNNER_TEMP/diff.md"',
                'cat "$RUNNER_TEMP/diff.md" >> "$GITHUB_STEP_SUMMARY"')},
            {"name": "Comment the summary", "uses": ACTIONS["sticky-comment"],
             "with": {"header": "mlkube-diff", "path": "${{ runner.temp }}/diff.md"}},
        ]}},
    }


def _release(gitops: GitOps) -> dict[str, Any]:
    out = gitops.path
    plan = {"runs-on": "ubuntu-24.04", "timeout-minutes": 10,
            "outputs": {"images": "${{ steps.matrix.outputs.images }}", "count": "${{ steps.matrix.outputs.count }}"},
            "steps": [{"uses": ACTIONS["checkout"]},
                      {"name": f"Build matrix from {out}/images.json", "id": "matrix", "run": _run(
                          f"if [ -f {out}/images.json ]; then images=$(jq -c '.images' {out}/images.json); else images='[]'; fi",
                          'echo "images=$images" >> "$GITHUB_OUTPUT"',
                          'echo "count=$(echo "$images" | jq length)" >> "$GITHUB_OUTPUT"')}]}
    build = {"needs": "plan", "if": "needs.plan.outputs.count != '0'", "runs-on": "ubuntu-24.04", "timeout-minutes": 60,
             "permissions": {"contents": "read", "packages": "write", "id-token": "write"},
             "strategy": {"fail-fast": False, "matrix": {"image": "${{ fromJSON(needs.plan.outputs.images) }}"}},
             "steps": [
                 {"uses": ACTIONS["checkout"]},
                 {"uses": ACTIONS["setup-buildx"]},
                 {"uses": ACTIONS["login"], "with": {"registry": gitops.ci_registry, "username": "${{ github.actor }}",
                                                     "password": "${{ secrets.GITHUB_TOKEN }}"}},
                 {"name": "Build (cached) for scanning", "uses": ACTIONS["build-push"], "with": {
                     "context": "${{ matrix.image.context }}", "file": "${{ matrix.image.dockerfile }}", "load": True,
                     "tags": "mlkube-scan/${{ matrix.image.name }}:${{ matrix.image.tag }}",
                     "cache-from": "type=gha,scope=${{ matrix.image.name }}",
                     "cache-to": "type=gha,mode=max,scope=${{ matrix.image.name }}"}},
                 {"name": "Scan for vulnerabilities", "uses": ACTIONS["trivy"], "with": {
                     "image-ref": "mlkube-scan/${{ matrix.image.name }}:${{ matrix.image.tag }}",
                     "exit-code": "1", "ignore-unfixed": True, "severity": "CRITICAL,HIGH"}},
                 {"name": "Push", "id": "push", "uses": ACTIONS["build-push"], "with": {
                     "context": "${{ matrix.image.context }}", "file": "${{ matrix.image.dockerfile }}", "push": True,
                     "platforms": "${{ join(matrix.image.platforms, ',') }}",
                     "tags": "${{ join(matrix.image.references.*, ',') }}",
                     "cache-from": "type=gha,scope=${{ matrix.image.name }}"}},
                 {"name": "Sign (keyless)", "if": "vars.MLKUBE_SIGN_IMAGES == 'true'", "uses": ACTIONS["cosign"]},
                 {"name": "Sign the pushed digest", "if": "vars.MLKUBE_SIGN_IMAGES == 'true'", "env": {"DIGEST": "${{ steps.push.outputs.digest }}"},
                  "run": _run('for ref in $(echo \'${{ toJSON(matrix.image.references) }}\' | jq -r \'.[]\' | sort -u); do',
                              '  cosign sign --yes "${ref%:*}@${DIGEST}"', "done")},
                 {"name": "Keep the build metadata", "run": "echo '${{ steps.push.outputs.metadata }}' > \"$RUNNER_TEMP/metadata-${{ matrix.image.name }}.json\""},
                 {"uses": ACTIONS["upload-artifact"], "with": {"name": "digests-${{ matrix.image.name }}",
                                                               "path": "${{ runner.temp }}/metadata-${{ matrix.image.name }}.json"}},
             ]}
    # Runs when nothing was built too: a registry image's new tag (a vendor bump) still needs its digest.
    pin = {"needs": ["plan", "build"], "if": "${{ !cancelled() && needs.plan.result == 'success' && needs.build.result != 'failure' }}",
           "runs-on": "ubuntu-24.04", "timeout-minutes": 20,
           "permissions": {"contents": "write", "pull-requests": "write", "packages": "read"},
           "steps": [
               *_setup(gitops),
               {"uses": ACTIONS["download-artifact"], "with": {"pattern": "digests-*", "path": "${{ runner.temp }}/digests", "merge-multiple": True}},
               # Entry environments only: mlkube pin never changes a gated one (mlkube promote does).
               {"name": "Pin the pushed digests", "run": _run(
                   'set --',
                   'for file in "$RUNNER_TEMP"/digests/*.json; do if [ -e "$file" ]; then set -- "$@" --digests "$file"; fi; done',
                   f'if [ "$#" -gt 0 ]; then mlkube pin --dist {out} "$@"; fi')},
               # The registry's answer for a tag nobody built here (a vendor image's new tag): read access is enough.
               {"uses": ACTIONS["login"], "with": {"registry": gitops.ci_registry, "username": "${{ github.actor }}",
                                                   "password": "${{ secrets.GITHUB_TOKEN }}"}},
               {"name": "Pin registry images by their tags' digests", "run": f"mlkube pin --dist {out} --resolve"},
               {"name": "Open a pull request with the pinned manifests", "uses": ACTIONS["create-pr"], "with": {
                   "branch": "mlkube/pin-${{ github.sha }}", "commit-message": "Pin images built from ${{ github.sha }}",
                   "title": "Pin images built from ${{ github.sha }}", "add-paths": out,
                   "body": "Digests pushed by run ${{ github.run_id }}; Argo CD syncs them once merged."}},
           ]}
    return {"name": "config repo: build, scan, push and pin images",
            "on": {"push": {"branches": ["main"], "paths": [f"{out}/**"]}, "workflow_dispatch": {}},
            "permissions": {"contents": "read"},
            "concurrency": {"group": "config-release", "cancel-in-progress": False},
            "jobs": {"plan": plan, "build": build, "pin": pin}}


def _promote(gitops: GitOps) -> dict[str, Any]:
    out = gitops.path
    inputs = {"source": {"description": "Environment whose locked digests are promoted", "required": True, "default": "staging", "type": "string"},
              "target": {"description": "Environment that receives them", "required": True, "default": "prod", "type": "string"}}
    promote = {"runs-on": "ubuntu-24.04", "timeout-minutes": 20, "environment": "production",
               "permissions": {"contents": "write", "pull-requests": "write"},
               "steps": [
                   *_setup(gitops),
                   {"name": "Promote", "env": {"SOURCE": "${{ inputs.source }}", "TARGET": "${{ inputs.target }}"},
                    "run": _run(f'mlkube promote "$SOURCE" "$TARGET" --dist {out}', "mlkube synth", f"mlkube validate --strict {out}",
                                f'mlkube check --pinned --dist {out} --env "$TARGET"')},
                   {"name": "Open the promotion pull request", "uses": ACTIONS["create-pr"], "with": {
                       "branch": "mlkube/promote-${{ inputs.source }}-to-${{ inputs.target }}-${{ github.run_id }}",
                       "commit-message": "Promote ${{ inputs.source }} images to ${{ inputs.target }}",
                       "title": "Promote ${{ inputs.source }} images to ${{ inputs.target }}", "add-paths": out,
                       "body": "Approved in run ${{ github.run_id }} (environment: production). Merging lets Argo CD sync; production sync is manual."}},
               ]}
    return {"name": "config repo: promote to production",
            "on": {"workflow_dispatch": {"inputs": inputs}},
            "permissions": {"contents": "read"},
            "concurrency": {"group": "config-promote", "cancel-in-progress": False},
            "jobs": {"promote": promote}}


def workflows(gitops: GitOps) -> dict[str, dict[str, Any]]:
    """File name -> workflow, as plain data."""
    return {"config-repo-pr.yml": _pull_request(gitops), "config-repo-release.yml": _release(gitops),
            "config-repo-promote.yml": _promote(gitops)}


def _dump(workflow: dict[str, Any]) -> bytes:
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    stream.write("# Generated by mlkube (mlkube workflows / mlkube synth): edit the platform, not this file.\n")
    yaml.dump(workflow, stream)
    return stream.getvalue().encode()


def render_workflows(gitops: GitOps) -> dict[str, bytes]:
    """File name -> bytes, deterministic."""
    return {name: _dump(workflow) for name, workflow in workflows(gitops).items()}
