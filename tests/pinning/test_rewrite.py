"""Pinning rewrites image values and nothing else: every other byte stays as it was."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pin_tree import all_digests, digest, snapshot_tree, write_tree

from mlkube.cli import main
from mlkube.pinning.rewrite import rewrite_text
from mlkube.pinning.scan import scan_images

IMAGE_VALUE = re.compile(r"(image: ?)(\"[^\"]*\"|'[^']*'|[^\s,}]+)")


def mask(text: str) -> str:
    return IMAGE_VALUE.sub(r"\1<image>", text)


def pin(dist: Path, digests: dict[str, str], *extra: str):  # type: ignore[no-untyped-def]
    import json

    digest_file = dist.parent / "digests.json"
    digest_file.write_text(json.dumps(digests))
    return CliRunner().invoke(main, ["pin", "--dist", str(dist), "--digests", str(digest_file), "--revision", "rev1", *extra])


def test_only_image_values_change(tmp_path: Path) -> None:
    dist = write_tree(tmp_path / "dist")
    before = snapshot_tree(dist)
    result = pin(dist, all_digests())
    assert result.exit_code == 0, result.output
    after = snapshot_tree(dist)
    assert set(after) == set(before) | {"images.lock.json"}
    changed = [name for name in before if before[name] != after[name]]
    assert sorted(changed) == sorted(f"{env}/fraud/{kind}" for env in ("dev", "prod")
                                     for kind in ("deployment-server.yaml", "cronjob-retrain.yaml", "inferenceservice-scorer.yaml"))
    for name in changed:
        assert mask(after[name].decode()) == mask(before[name].decode()), name


def test_values_keep_their_quoting_style(tmp_path: Path) -> None:
    dist = write_tree(tmp_path / "dist", ("dev",))
    assert pin(dist, all_digests()).exit_code == 0
    deployment = (dist / "dev" / "fraud" / "deployment-server.yaml").read_text()
    assert f"      - image: registry.example.com/ml/fraud@{digest('a')}\n" in deployment
    assert f'      - image: "ghcr.io/acme/proxy@{digest("c")}"   # a sidecar, double-quoted\n' in deployment
    assert f"        image: 'busybox@{digest('d')}'\n" in deployment
    cronjob = (dist / "dev" / "fraud" / "cronjob-retrain.yaml").read_text()
    assert f"          - {{name: train, image: registry.example.com/ml/trainer@{digest('b')}}}\n" in cronjob


def test_configmaps_are_data_not_images(tmp_path: Path) -> None:
    dist = write_tree(tmp_path / "dist", ("dev",))
    assert pin(dist, all_digests()).exit_code == 0
    text = (dist / "dev" / "fraud" / "inferenceservice-scorer.yaml").read_text()
    assert text.endswith("data:\n  image: busybox:1.36\n  readme: |\n    image: busybox:1.36\n")


def test_rewrite_text_handles_non_ascii_and_several_values() -> None:
    text = "metadata:\n  annotations: {note: 'café ☕'}\nspec:\n  containers:\n  - image: a:1\n  - image: b:2 # x\n"
    scalars = scan_images(text)
    new = rewrite_text(text, {scalars[0]: "a@" + digest("1"), scalars[1]: "b@" + digest("2")})
    assert new == text.replace("a:1", "a@" + digest("1")).replace("b:2", "b@" + digest("2"))


@pytest.mark.parametrize("style", ["plain", "single", "double"])
def test_pinned_values_read_back_as_written(style: str) -> None:
    import yaml

    value = {"plain": "reg.io/x:1", "single": "'reg.io/x:1'", "double": '"reg.io/x:1"'}[style]
    text = f"image: {value}\n"
    new = rewrite_text(text, {scan_images(text)[0]: "reg.io/x@" + digest("e")})
    assert yaml.safe_load(new) == {"image": "reg.io/x@" + digest("e")}
