"""The lock file: its format, and clear errors when it is not valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlkube.errors import MlkubeError
from mlkube.pinning.lock import Lock, LockEntry, load_lock, parse_lock

DIGEST = "sha256:" + "a" * 64


def test_round_trip_in_the_documented_format(tmp_path: Path) -> None:
    lock = Lock({"dev": {"fraud": LockEntry("reg.io/ml/fraud", "0123", DIGEST, "0123", "rev1")}})
    (tmp_path / "images.lock.json").write_bytes(lock.to_bytes())
    assert json.loads(lock.to_bytes()) == {"version": 1, "environments": {"dev": {"images": {"fraud": {
        "repository": "reg.io/ml/fraud", "tag": "0123", "digest": DIGEST, "source": {"contentTag": "0123", "revision": "rev1"}}}}}}
    assert load_lock(tmp_path) == lock
    assert lock.digest_of("dev", "reg.io/ml/fraud", "0123") == DIGEST
    assert lock.digest_of("prod", "reg.io/ml/fraud", "0123") is None


def test_a_missing_lock_is_empty(tmp_path: Path) -> None:
    assert load_lock(tmp_path) == Lock()


def test_fails_when_the_lock_is_not_json() -> None:
    with pytest.raises(MlkubeError) as caught:
        parse_lock('{"version": 1,\n  "environments": {,}}', "dist/images.lock.json")
    assert str(caught.value) == ("error: the image lock file cannot be read (1 problem)\n"
                                 "  - dist/images.lock.json:2:20: not valid JSON: Expecting property name enclosed in double quotes\n"
                                 "        hint: restore it from version control, or delete it and run `mlkube pin` again")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(("text", "message"), [
    ('{"version": 2, "environments": {}}', 'expected an object with "version": 1'),
    ('{"version": 1, "environments": {"dev": {"images": {"x": {"repository": "r", "tag": "t", "digest": "sha256:1"}}}}}',
     "environments.dev.images.x.digest: 'sha256:1' is not a sha256 digest"),
    ('{"version": 1, "environments": {"dev": {"images": {"x": {"repository": "r"}}}}}',
     "environments.dev.images.x: missing or empty: tag, digest"),
    ('{"version": 1, "environments": {"dev": []}}', 'environments.dev: must be an object with "images"'),
])
def test_fails_when_the_lock_is_invalid(text: str, message: str) -> None:
    with pytest.raises(MlkubeError, match="lock file") as caught:
        parse_lock(text, "images.lock.json")
    assert message in str(caught.value)
