"""The GitOps flow over time, as the generated workflows run it (issue 16).

A config repo (dev, staging, prod = production) in a real git repository, with a built image and a
vendor image in a real registry (docker-registry on 127.0.0.1). The ``run:`` steps of the generated
workflows are read from the generated YAML and run in order; the test stands in for the ``uses:``
steps (buildah builds and pushes what build-push-action would, artifacts are copied, the pull
requests they open are merged) and gives the ``${{ }}`` values. The story:

bootstrap (release, promote) -> PR with a code change (green, its comment lists the images CI builds)
-> release (staging moves, prod does not) -> a second release -> promote (prod equals staging)
-> check --pinned -> a vendor tag bump in staging only (release, promote) -> app removal (high data loss).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from realtools import Buildah, Registry, buildah_unusable
from workflow_runner import Workflow

from mlkube.pinning.scan import scan_images

REASON = buildah_unusable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"cannot build images here: {REASON}")
WORKFLOWS = Path("dist/.github/workflows")

BLUEPRINT = """\
import json
from pathlib import Path

from mlkube import CheckpointVolume, Environment, Image, InferenceService, Platform
from mlkube.core.gitops_settings import GitOps

REGISTRY = {registry!r}
BASE, BASE_DIGEST = {base!r}, {base_digest!r}
STATE = json.loads(Path("platform.json").read_text())  # the vendor tag per environment, the apps
platform = Platform([Environment(name=name, registry=REGISTRY + "/ml", production=name == "prod") for name in ("dev", "staging", "prod")],
                    gitops=GitOps(repo_url="https://example.com/acme/ml-config.git", ci_install="mlkube --help", ci_registry=REGISTRY))


def vendor(app):
    return REGISTRY + "/vendor/gateway:" + STATE["vendor"][app.environment.name]


@platform.app("fraud")
def fraud(app):
    InferenceService(app, "server", image=Image.build("models/fraud", base=BASE, base_digest=BASE_DIGEST, requirements=None))
    InferenceService(app, "gateway", image=vendor(app))


if "llm" in STATE["apps"]:
    @platform.app("llm")
    def llm(app):
        volume = CheckpointVolume(app, "checkpoints", size="10Gi", access_mode="ReadWriteMany")
        chat = InferenceService(app, "chat", image=vendor(app))
        chat.mount(volume, read_only=True)


platform.synth()
"""


def _scratch_image(buildah: Buildah, reference: str, files: dict[str, str], digest_file: Path) -> str:
    """A busybox image with ``files``, committed reproducibly and pushed."""
    container = buildah("from", "scratch")
    try:
        root = Path(buildah("mount", container))
        (root / "bin").mkdir()
        shutil.copy2("/bin/busybox", root / "bin/busybox")
        (root / "bin/sh").symlink_to("/bin/busybox")
        for name, text in files.items():
            (root / name).write_text(text)
        buildah("umount", container)
        buildah("commit", "--timestamp", "0", container, reference)
    finally:
        buildah("rm", container)
    buildah("push", "--tls-verify=false", "--digestfile", str(digest_file), reference, f"docker://{reference}")
    return digest_file.read_text().strip()


class ConfigRepo:
    """The config repo, its main branch, and the CI runs on it."""

    def __init__(self, root: Path, buildah: Buildah, registry: Registry) -> None:
        self.root, self.buildah, self.registry = root, buildah, registry
        self.dist = root / "dist"
        self.runs = 0
        #: Names of the images the release workflow built, in order (an unchanged content tag is never rebuilt).
        self.built: list[str] = []
        self.env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                    # The runner's configuration: the test registry speaks plain HTTP.
                    "MLKUBE_INSECURE_REGISTRIES": registry.address, "GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.com",
                    "GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@example.com"}

    # -- git and the developer --------------------------------------------------------------------

    def git(self, *args: str) -> str:
        result = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True, env={**os.environ, **self.env})
        assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
        return result.stdout.strip()

    def mlkube(self, *args: str, allow_unpinned: bool = False, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env, **({"MLKUBE_ALLOW_UNPINNED": "1"} if allow_unpinned else {})}
        result = subprocess.run([sys.executable, "-m", "mlkube", *args], cwd=self.root, capture_output=True, text=True, env=env, timeout=300)
        assert not check or result.returncode == 0, f"mlkube {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        if self.git("status", "--porcelain"):
            self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def state(self, **changes: object) -> None:
        path = self.root / "platform.json"
        state = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**state, **changes}, sort_keys=True))

    def images(self, environment: str) -> dict[str, str]:
        """``<app>/<file>: container image`` of one environment."""
        return {f"{path.parent.name}/{path.name}": scalar.value for path in sorted((self.dist / environment).glob("*/*.yaml"))
                for scalar in scan_images(path.read_text())}

    def lock(self) -> dict:
        return json.loads((self.dist / "images.lock.json").read_text())["environments"]

    # -- CI ---------------------------------------------------------------------------------------

    def _values(self, **extra: str) -> dict[str, str]:
        self.runs += 1
        return {"github.sha": self.git("rev-parse", "HEAD"), "github.run_id": str(1000 + self.runs), "github.actor": "ci",
                "secrets.GITHUB_TOKEN": "token", "github.event.pull_request.number": "1", "github.base_ref": "main", **extra}

    def _temp(self, name: str) -> Path:
        temp = self.root.parent / f"runner-{self.runs}-{name}"
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir()
        return temp

    def _run(self, workflow: str, job: str, temp: Path, values: dict[str, str], **conditions: bool) -> list:
        flow = Workflow(self.root / WORKFLOWS / workflow)
        # The runner's environment for the job: GITHUB_SHA as for the event's commit.
        env = {**self.env, "GITHUB_SHA": values["github.sha"]}
        return flow.run_steps(job, cwd=self.root, values={**values, "runner.temp": str(temp)},
                              conditions={"vars.MLKUBE_SIGN_IMAGES == 'true'": False, **conditions}, env=env, temp=temp)

    def pull_request(self, branch: str, change, message: str) -> str:
        """A developer's change on a branch (with its synth), CI's PR job on it, then the merge; returns the diff comment."""
        self.git("checkout", "-q", "-b", branch)
        change()
        self.mlkube("synth")
        self.commit(message)
        self.git("update-ref", "refs/remotes/origin/main", "main")
        values = self._values()
        temp = self._temp("pr")
        self._run("config-repo-pr.yml", "synth", temp, values)
        comment = (temp / "diff.md").read_text()
        self.git("checkout", "-q", "main")
        self.git("merge", "-q", "--ff-only", branch)
        return comment

    def release(self) -> None:
        """The release workflow on main: plan, build and push each image (buildah for build-push-action), pin, merge its PR."""
        values = self._values()
        plan_temp = self._temp("plan")
        plan = self._run("config-repo-release.yml", "plan", plan_temp, values)
        images = json.loads(next(run.outputs["images"] for run in plan if "images" in run.outputs))
        pin_temp = self._temp("pin")
        (pin_temp / "digests").mkdir()
        for artifact in plan_temp.glob("digests-*.json"):  # the digests of content tags already pushed (not rebuilt)
            shutil.copy2(artifact, pin_temp / "digests" / artifact.name)
        self.built += [image["name"] for image in images]
        for image in images:
            build_temp = self._temp(f"build-{image['name']}")
            references = sorted(set(image["references"].values()))
            self.buildah.bud(self.dist / image["dockerfile"], self.root / image["context"], references[0], "--tls-verify=false")
            digest = ""
            for reference in references:
                if reference != references[0]:
                    self.buildah("tag", references[0], reference)
                self.buildah("push", "--tls-verify=false", "--digestfile", str(build_temp / "digest"), reference, f"docker://{reference}")
                digest = (build_temp / "digest").read_text().strip()
            metadata = json.dumps({"containerimage.digest": digest, "image.name": ",".join(image["references"].values())})
            self._run("config-repo-release.yml", "build", build_temp, {
                **values, "matrix.image.name": image["name"], "steps.push.outputs.metadata": metadata,
                "steps.push.outputs.digest": digest, "toJSON(matrix.image.references)": json.dumps(image["references"])})
            for artifact in build_temp.glob("metadata-*.json"):  # upload-artifact, then download-artifact merge-multiple
                shutil.copy2(artifact, pin_temp / "digests" / artifact.name)
        self._run("config-repo-release.yml", "pin", pin_temp, values)
        self.commit(f"Pin images built from {values['github.sha']}")  # create-pull-request, merged

    def promote(self, source: str = "staging", target: str = "prod") -> None:
        values = self._values(**{"inputs.source": source, "inputs.target": target})
        self._run("config-repo-promote.yml", "promote", self._temp("promote"), values)
        self.commit(f"Promote {source} images to {target}")  # the promotion pull request, approved and merged


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[ConfigRepo]:
    registry = Registry(tmp_path).start()
    try:
        buildah = Buildah(tmp_path)
        base = f"{registry.address}/base/busybox:1"
        base_digest = _scratch_image(buildah, base, {"etc-release": "base\n"}, tmp_path / "base.digest")
        for tag in ("1.0", "1.1"):
            _scratch_image(buildah, f"{registry.address}/vendor/gateway:{tag}", {"version": tag}, tmp_path / f"gateway-{tag}.digest")
        root = tmp_path / "config"
        (root / "models/fraud").mkdir(parents=True)
        (root / "models/fraud/serve.py").write_text("print('v1')\n")
        (root / "app.py").write_text(BLUEPRINT.format(registry=registry.address, base=base, base_digest=base_digest))
        (root / "cdk8s.yaml").write_text("language: python\napp: python app.py\n")
        config = ConfigRepo(root, buildah, registry)
        config.git("init", "-q", "-b", "main")
        config.state(vendor={"dev": "1.0", "staging": "1.0", "prod": "1.0"}, apps=["fraud", "llm"])
        yield config
    finally:
        registry.stop()


def test_the_config_repo_lifecycle_through_the_generated_workflows(repo: ConfigRepo) -> None:
    # Bootstrap: prod has never been promoted, so the first synth writes its tags with a warning.
    first = repo.mlkube("synth", allow_unpinned=True)
    assert "was never promoted to gated environment 'prod'" in first.stderr
    repo.commit("Bootstrap the platform")
    repo.release()
    assert repo.mlkube("check", "--pinned", "--env", "dev", "--env", "staging").returncode == 0
    assert all("@sha256:" not in image for image in repo.images("prod").values()), "pin never moves prod"
    repo.promote()
    assert repo.images("prod") == repo.images("staging")
    released = repo.images("prod")

    # 1. A PR with a code change: green (its steps all pass), prod untouched, the comment lists what CI builds.
    comment = repo.pull_request("code-change", lambda: (repo.root / "models/fraud/serve.py").write_text("print('v2')\n"),
                                "Serve v2")
    new_tag = json.loads((repo.dist / "images.json").read_text())["images"][0]["tag"]
    assert "### Images CI builds after merge" in comment
    assert f"`fraud: {repo.registry.address}/ml/fraud:{new_tag} (staging)`" in comment
    assert repo.images("prod") == released
    assert repo.images("staging")["fraud/deployment-server.yaml"] == f"{repo.registry.address}/ml/fraud:{new_tag}"

    # 2. Release: staging moves to the new digest, prod does not.
    repo.release()
    staging_v2 = repo.images("staging")["fraud/deployment-server.yaml"]
    assert "@sha256:" in staging_v2 and staging_v2 != released["fraud/deployment-server.yaml"]
    assert repo.images("prod") == released

    # 3. A second release (another change merged straight to main).
    (repo.root / "models/fraud/serve.py").write_text("print('v3')\n")
    repo.mlkube("synth")
    repo.commit("Serve v3")
    repo.release()
    assert repo.images("staging")["fraud/deployment-server.yaml"] not in (staging_v2, released["fraud/deployment-server.yaml"])
    assert repo.images("prod") == released

    # 4. Promote: prod runs exactly what staging locked; the tree is pinned and re-synthesizes unchanged.
    repo.promote()
    assert repo.images("prod") == repo.images("staging")
    assert repo.lock()["prod"]["images"] == repo.lock()["staging"]["images"]
    assert repo.mlkube("check", "--pinned").stdout.endswith("image references pinned by digest\n")
    repo.mlkube("synth")
    assert repo.git("status", "--porcelain") == ""

    # 5. A vendor tag bump in staging only: released (resolved by the registry), then promoted with its tag.
    gateway = "fraud/deployment-gateway.yaml"
    repo.pull_request("vendor-bump", lambda: repo.state(vendor={"dev": "1.0", "staging": "1.1", "prod": "1.0"}), "Gateway 1.1 in staging")
    repo.release()
    assert repo.built == ["fraud", "fraud", "fraud"], "the vendor bump rebuilds nothing, yet its release pins the new tag"
    staging_gateway = repo.images("staging")[gateway]
    assert staging_gateway != repo.images("dev")[gateway] and "@sha256:" in staging_gateway
    assert repo.lock()["staging"]["images"][f"{repo.registry.address}/vendor/gateway"]["tag"] == "1.1"
    assert repo.images("prod")[gateway] == repo.images("dev")[gateway]
    repo.promote()
    assert repo.images("prod") == repo.images("staging")
    assert repo.lock()["prod"]["images"][f"{repo.registry.address}/vendor/gateway"]["tag"] == "1.1"
    assert repo.mlkube("check", "--pinned").returncode == 0

    # 6. Removing the app that holds a CheckpointVolume: the comment flags data loss as high, and --fail-on high fails.
    comment = repo.pull_request("remove-llm", lambda: repo.state(apps=["fraud"]), "Remove the llm app")
    assert "🔴 **high** data loss: app 'llm' is removed" in comment
    failed = repo.mlkube("diff", "main~1:dist", "main:dist", "--fail-on", "high", check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
