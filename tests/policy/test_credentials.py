"""MLK-SEC-009: values that look like credentials fail synth and `validate --policy`, masked, waivable with a reason."""

from __future__ import annotations

import textwrap

import pytest
from helpers import run_mlkube

from mlkube import Environment, InferenceService, MlkubeError, Platform
from mlkube.core.gitops_settings import GitOps, NetworkSpec
from mlkube.policy import Waiver
from mlkube.policy.credentials import find_credentials, mask
from mlkube.testing import synth_app, synth_platform

IMAGE = "ghcr.io/acme/server:1.0@sha256:" + "a" * 64
GITHUB = "ghp_" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7d"
FINE_GRAINED = "github_pat_" + "A1b2C3d4E5" * 8 + "Zz"
AWS = "AKIAIOSFODNN7EXAMPLE"
HUGGING_FACE = "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgH"
SLACK = "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
RANDOM = "q8Zt3Lw0Xv9Rb2Nc7Mk4Hs1Jd6Fg5Ya"


#: Model downloads leave the cluster over HTTPS: the environment must allow it, or synth stops at that first.
OPEN = Environment(name="test", namespace="ml", network=NetworkSpec(egress_https_cidrs=["0.0.0.0/0"]))


def _failure(build=None, platform=None) -> str:
    with pytest.raises(MlkubeError) as error:
        synth_platform(platform) if platform is not None else synth_app(build, environments=[OPEN])
    return str(error.value)


@pytest.mark.parametrize(("value", "kind"), [
    (GITHUB, "a GitHub token"), (FINE_GRAINED, "a GitHub fine-grained token"), (AWS, "an AWS access key ID"),
    (HUGGING_FACE, "a Hugging Face token"), (SLACK, "a Slack token"), (JWT, "a JSON Web Token"), (PEM, "a private key"),
    ("postgres://scorer:s3cr3t-pw@db.internal:5432/features", "a URI with a password"),
])
def test_known_credential_formats_are_found(value, kind):
    assert [c.kind for c in find_credentials(value)] == [kind]


@pytest.mark.parametrize(("name", "value", "found"), [
    ("API_KEY", RANDOM, True), ("DB_PASSWORD", RANDOM, True), ("hf-token", RANDOM, True),
    ("API_KEY", "changeme", False),                 # short and plain: not a random credential
    ("REVISION", RANDOM, False),                     # a random value under an ordinary name (a hash, an ID)
    ("TOKEN_FILE", "/var/run/secrets/hf/token", False), ("TOKEN_PATH", RANDOM, False),
    ("AUTH_URL", "https://auth.example.com/oauth2/token", False),
])
def test_random_values_count_only_under_secret_like_names(name, value, found):
    assert bool(find_credentials(value, name)) is found


def test_plain_configuration_is_not_a_credential():
    for value in ("s3://acme-models/fraud/v3", "hf://distilbert/sst-2", "ssh://git@github.com/acme/x.git", "0.82", "info",
                  "https://github.com/acme/ml-platform-config.git", "sha256:" + "a" * 64):
        assert find_credentials(value, "value") == [], value


def test_a_mask_never_shows_the_secret():
    assert mask(GITHUB) == "ghp_…(40 characters)"
    assert mask("short") == "…(5 characters)"


def _server(**fields):
    return lambda app: InferenceService(app, "s", image=IMAGE, **fields)


@pytest.mark.parametrize(("fields", "field"), [
    ({"env": {"GITHUB_TOKEN": GITHUB}}, "containers[0].env["),
    ({"config": {"AWS_ACCESS_KEY_ID": AWS}}, "data.AWS_ACCESS_KEY_ID"),
    ({"config": {"API_KEY": RANDOM}}, "data.API_KEY"),
    ({"model": "https://scorer:s3cr3t-pw@models.internal/fraud/v3"}, "args"),
])
def test_synth_fails_on_a_credential_in_env_config_or_model_uri(fields, field):
    message = _failure(_server(**fields))
    assert "MLK-SEC-009" in message and field in message
    for secret in (GITHUB, AWS, RANDOM, "s3cr3t-pw"):
        assert secret not in message


def test_synth_fails_on_a_token_inside_the_gitops_repo_url():
    platform = Platform(environments=[Environment(name="dev", namespace="ml-{app}")],
                        gitops=GitOps(repo_url=f"https://x-access-token:{GITHUB}@github.com/acme/config.git"))
    platform.app("scoring", _server())
    message = _failure(platform=platform)
    assert "MLK-SEC-009 Application/dev-scoring: holds a GitHub token (ghp_…(40 characters))" in message
    assert "MLK-SEC-009 AppProject/dev: holds" in message
    assert GITHUB not in message


def test_synth_fails_on_a_credential_in_settings_written_beside_the_manifests():
    platform = Platform(environments=[Environment(name="dev", namespace="ml-{app}")],
                        gitops=GitOps(repo_url="https://github.com/acme/config.git",
                                      ci_install=f"pip install git+https://ci:{HUGGING_FACE}@git.example.com/mlkube.git"))
    platform.app("scoring", _server())
    message = _failure(platform=platform)
    assert ".github/workflows/config-repo-pr.yml:" in message and "holds a Hugging Face token" in message
    assert HUGGING_FACE not in message


def test_a_waiver_with_a_reason_lets_a_non_credential_through():
    objects = synth_app(_server(config={"API_KEY": RANDOM},
                                waivers=[Waiver(rule="MLK-SEC-009", reason="public demo key of the sandbox API, not a secret")]))
    assert objects.get("ConfigMap", "s-config")["data"]["API_KEY"] == RANDOM


def test_validate_policy_reports_credentials_masked(tmp_path):
    (tmp_path / "cm.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: settings, namespace: ml}}
        data:
          TOKEN: "{JWT}"
        """))
    result = run_mlkube("validate", "--policy", str(tmp_path / "cm.yaml"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "MLK-SEC-009" in result.stdout and "a JSON Web Token (eyJh…" in result.stdout
    assert JWT not in result.stdout + result.stderr


def test_error_messages_never_print_a_credential_they_quote():
    message = _failure(_server(model=f"ftp://scorer:{GITHUB}@models.internal/fraud"))
    assert "has no supported scheme" in message and GITHUB not in message and "ghp_…(40 characters)" in message
