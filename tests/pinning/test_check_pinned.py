"""``mlkube check --pinned``: lists each object and container whose image is not the locked digest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pin_tree import FRAUD, all_digests, digest, write_tree

from mlkube.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture()
def dist(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "dist")


def pin_all(dist: Path) -> None:
    (dist.parent / "d.json").write_text(json.dumps(all_digests()))
    assert run("pin", "--dist", str(dist), "--digests", str(dist.parent / "d.json")).exit_code == 0


def test_fails_listing_every_unpinned_container(dist: Path) -> None:
    result = run("check", "--pinned", "--dist", str(dist), "--env", "dev")
    assert result.exit_code == 1
    lines = [line.strip() for line in result.output.splitlines() if line.strip().startswith("- ")]
    assert lines == [
        f"- {dist}/dev/fraud/cronjob-retrain.yaml:11: spec.jobTemplate.spec.template.spec.containers[0].image: "
        f"CronJob/retrain container 'train': image 'registry.example.com/ml/trainer:0123456789abcdef' is not pinned by digest",
        f"- {dist}/dev/fraud/deployment-server.yaml:10: spec.template.spec.containers[0].image: "
        f"Deployment/server container 'main': image '{FRAUD}' is not pinned by digest",
        f"- {dist}/dev/fraud/deployment-server.yaml:12: spec.template.spec.containers[1].image: "
        "Deployment/server container 'proxy': image 'ghcr.io/acme/proxy:2.1' is not pinned by digest",
        f"- {dist}/dev/fraud/deployment-server.yaml:16: spec.template.spec.initContainers[0].image: "
        "Deployment/server container 'init': image 'busybox:1.36' is not pinned by digest",
        f"- {dist}/dev/fraud/inferenceservice-scorer.yaml:8: spec.predictor.containers[0].image: "
        f"InferenceService/scorer container 'kserve-container': image '{FRAUD}' is not pinned by digest",
    ]
    assert result.output.startswith("error: 5 of 5 image references are not pinned to the locked digest (5 problems)")


def test_passes_after_pin(dist: Path) -> None:
    pin_all(dist)
    result = run("check", "--pinned", "--dist", str(dist))
    assert (result.exit_code, result.output) == (0, "10 image references pinned by digest\n")


def test_fails_when_a_digest_is_not_the_locked_one(dist: Path) -> None:
    pin_all(dist)
    path = dist / "prod/fraud/deployment-server.yaml"
    path.write_text(path.read_text().replace(digest("a"), digest("f"), 1))
    result = run("check", "--pinned", "--dist", str(dist))
    assert result.exit_code == 1
    assert (f"Deployment/server container 'main': digest {digest('f')} is not the one locked for "
            f"registry.example.com/ml/fraud in prod (0123456789abcdef -> {digest('a')})") in result.output
    assert run("check", "--pinned", "--dist", str(dist), "--env", "dev").exit_code == 0


def test_an_image_pinned_by_hand_needs_no_lock(tmp_path: Path) -> None:
    app = tmp_path / "dist" / "dev" / "x"
    app.mkdir(parents=True)
    (app / "pod-x.yaml").write_text(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n"
                                    f"  - name: x\n    image: ghcr.io/acme/x:1.0@{digest('1')}\n")
    assert run("check", "--pinned", "--dist", str(tmp_path / "dist")).exit_code == 0


def test_fails_on_an_unknown_environment(dist: Path) -> None:
    result = run("check", "--pinned", "--dist", str(dist), "--env", "staging")
    assert result.exit_code == 2
    assert "no environment staging in" in result.output and "dev, prod" in result.output


def test_fails_when_nothing_is_asked(dist: Path) -> None:
    result = run("check", "--dist", str(dist))
    assert result.exit_code == 2 and "say what to check" in result.output
