"""Digest files from CI: a plain map, build-push-action metadata, buildah --digestfile files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlkube.errors import MlkubeError
from mlkube.pinning.digests import read_digest_files

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_reads_a_map_of_references(tmp_path: Path) -> None:
    path = write(tmp_path / "d.json", {"reg.io/ml/fraud:0123": A, "busybox:1.36": B})
    assert read_digest_files([path]) == {"reg.io/ml/fraud:0123": A, "busybox:1.36": B}


def test_reads_build_push_action_metadata(tmp_path: Path) -> None:
    metadata = {"buildx.build.ref": "builder/x/y", "containerimage.config.digest": B,
                "containerimage.digest": A, "image.name": "reg.io/ml/fraud:0123,reg.io/ml/fraud:latest"}
    path = write(tmp_path / "metadata.json", metadata)
    assert read_digest_files([path]) == {"reg.io/ml/fraud:0123": A, "reg.io/ml/fraud:latest": A}


def test_reads_bake_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "bake.json", {"fraud": {"containerimage.digest": A, "image.name": "reg.io/ml/fraud:0123"},
                                          "trainer": {"containerimage.digest": B, "image.name": "reg.io/ml/trainer:0123"}})
    assert read_digest_files([path]) == {"reg.io/ml/fraud:0123": A, "reg.io/ml/trainer:0123": B}


def test_reads_buildah_digestfiles_given_with_their_reference(tmp_path: Path) -> None:
    write(tmp_path / "fraud.digest", A)  # buildah writes the digest alone, no newline
    assert read_digest_files([], [f"reg.io/ml/fraud:0123={tmp_path / 'fraud.digest'}"]) == {"reg.io/ml/fraud:0123": A}


@pytest.mark.parametrize(("data", "message"), [
    ({"reg.io/ml/fraud:0123": "sha256:xyz"}, "reg.io/ml/fraud:0123: malformed digest 'sha256:xyz'"),
    ({"reg.io/ml/fraud:0123": "a" * 64}, "malformed digest"),
    ({"reg.io/ml/fraud": A}, "reg.io/ml/fraud: not an image reference with a tag"),
    ({"containerimage.digest": A}, "image.name: build metadata without image names"),
    ([A], "expected a JSON object"),
])
def test_fails_on_bad_digest_files(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(MlkubeError, match="nothing was changed") as caught:
        read_digest_files([write(tmp_path / "d.json", data)])
    assert message in str(caught.value)


def test_fails_on_a_digestfile_given_as_json(tmp_path: Path) -> None:
    with pytest.raises(MlkubeError, match="pass it as --digest REF=FILE"):
        read_digest_files([write(tmp_path / "fraud.digest", A)])


def test_fails_on_two_digests_for_one_reference(tmp_path: Path) -> None:
    first = write(tmp_path / "a.json", {"reg.io/x:1": A})
    second = write(tmp_path / "b.json", {"reg.io/x:1": B})
    with pytest.raises(MlkubeError, match="two different digests given"):
        read_digest_files([first, second])


def test_fails_on_a_pair_without_file(tmp_path: Path) -> None:
    with pytest.raises(MlkubeError, match="expected REF=FILE"):
        read_digest_files([], ["reg.io/x:1"])
