"""The registry client: all four Accept types, bearer tokens, credentials, HTTP only where allowed."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fake_registry import MANIFEST, FakeRegistry
from realtools import free_port

from mlkube.core.image_reference import registry_of
from mlkube.pinning.auth import Credentials
from mlkube.pinning.registry import MANIFEST_TYPES, RegistryClient, RegistryError


def client(address: str, credentials: Credentials | None = None) -> RegistryClient:
    return RegistryClient([address], credentials or Credentials([]), timeout=5)


def test_head_sends_all_four_manifest_types() -> None:
    with FakeRegistry({"ml/fraud:1": MANIFEST}) as registry:
        assert client(registry.address).digest(f"{registry.address}/ml/fraud", "1") == FakeRegistry.digest_of(MANIFEST)
    assert [r["method"] for r in registry.requests] == ["HEAD"]
    assert [kind.strip() for kind in registry.requests[0]["accept"].split(",")] == list(MANIFEST_TYPES)


def test_bearer_token_with_docker_config_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeRegistry({"ml/fraud:1": MANIFEST}, mode="bearer") as registry:
        config = tmp_path / "docker"
        config.mkdir()
        auth = base64.b64encode(b"ci:secret").decode()
        (config / "config.json").write_text(json.dumps({"auths": {f"https://{registry.address}/v1/": {"auth": auth}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(config))
        monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
        monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
        resolver = RegistryClient([registry.address], timeout=5)
        assert resolver.digest(f"{registry.address}/ml/fraud", "1") == FakeRegistry.digest_of(MANIFEST)
    token_request = next(r for r in registry.requests if r["path"].startswith("/token"))
    assert token_request["authorization"] == f"Basic {auth}"
    assert "scope=repository%3Aml%2Ffraud%3Apull" in token_request["path"] and "service=fake" in token_request["path"]
    assert registry.requests[-1]["authorization"] == "Bearer t0k"


def test_fails_when_the_token_service_refuses() -> None:
    with FakeRegistry({"ml/fraud:1": MANIFEST}, mode="bearer") as registry:
        with pytest.raises(RegistryError, match=r"token service of 127.0.0.1:\d+ refused access \(HTTP 401\)"):
            client(registry.address).digest(f"{registry.address}/ml/fraud", "1")


def test_hashes_the_manifest_when_the_header_is_missing() -> None:
    with FakeRegistry({"ml/fraud:1": MANIFEST}, mode="no-digest-header") as registry:
        assert client(registry.address).digest(f"{registry.address}/ml/fraud", "1") == FakeRegistry.digest_of(MANIFEST)
    assert [r["method"] for r in registry.requests] == ["HEAD", "GET"]


def test_fails_when_the_tag_is_missing() -> None:
    with FakeRegistry({}) as registry, pytest.raises(RegistryError, match="not found in the registry") as caught:
        client(registry.address).digest(f"{registry.address}/ml/fraud", "9")
    assert caught.value.hint == "push the image first, or check its name and tag"


def test_fails_when_the_registry_answers_500() -> None:
    with FakeRegistry({}, mode="500") as registry, pytest.raises(RegistryError, match=r"answered HTTP 500"):
        client(registry.address).digest(f"{registry.address}/ml/fraud", "1")


def test_fails_when_the_registry_is_down() -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryError, match=f"cannot reach the registry {address}"):
        client(address).digest(f"{address}/ml/fraud", "1")


def test_uses_https_unless_the_registry_is_marked_insecure() -> None:
    with FakeRegistry({"ml/fraud:1": MANIFEST}) as registry:
        with pytest.raises(RegistryError, match=f"https://{registry.address}/v2/ml/fraud/manifests/1") as caught:
            RegistryClient([], Credentials([]), timeout=5).digest(f"{registry.address}/ml/fraud", "1")
    assert f"--insecure-registry {registry.address}" in caught.value.hint


def test_resolve_all_reports_each_answer() -> None:
    with FakeRegistry({"ml/fraud:1": MANIFEST}) as registry:
        answers = client(registry.address).resolve_all([(f"{registry.address}/ml/fraud", "1"), (f"{registry.address}/ml/fraud", "2")])
    assert answers[(f"{registry.address}/ml/fraud", "1")] == FakeRegistry.digest_of(MANIFEST)
    assert isinstance(answers[(f"{registry.address}/ml/fraud", "2")], RegistryError)


@pytest.mark.parametrize(("repository", "expected"), [
    ("busybox", ("docker.io", "library/busybox")),
    ("acme/fraud", ("docker.io", "acme/fraud")),
    ("ghcr.io/acme/fraud", ("ghcr.io", "acme/fraud")),
    ("localhost/ml/x", ("localhost", "ml/x")),
    ("127.0.0.1:5000/ml/x", ("127.0.0.1:5000", "ml/x")),
])
def test_registry_of(repository: str, expected: tuple[str, str]) -> None:
    assert registry_of(repository) == expected


def test_credentials_from_the_containers_auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "auth.json").write_text(json.dumps({"auths": {"reg.io": {"username": "u", "password": "p"}},
                                                    "credHelpers": {"other.io": "gcloud"}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    credentials = Credentials()
    assert credentials.basic("reg.io") == base64.b64encode(b"u:p").decode()
    assert credentials.basic("other.io") is None
