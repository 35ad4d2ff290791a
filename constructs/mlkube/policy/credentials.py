"""Values that look like credentials: tokens of known formats, URIs with a password, private keys, JWTs,
and high-entropy values under secret-like names. The config repo is readable by many; credentials come
from a secret store (ExternalSecret) or an existing Secret, never from a value in Git.

Reports never contain the credential: only its kind, its first characters and its length (``mask``).
Rule MLK-SEC-009 checks every string of every object (synth and ``validate --policy``); the synth step
``check_output_files`` checks the other files synth writes (workflows, Dockerfiles, images.json).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Problem
from .model import Hit, Target, rule

if TYPE_CHECKING:
    from ..synth import SynthContext

__all__ = ["Credential", "find_credentials", "mask", "check_output_files", "SECRET_NAME", "MIN_ENTROPY"]

# Formats as the gitleaks rules define them (github.com/gitleaks/gitleaks, config/gitleaks.toml: github-pat,
# github-fine-grained-pat, github-oauth, github-app-token, github-refresh-token, aws-access-token,
# huggingface-access-token, slack-*-token, private-key, jwt), and GitHub's token formats
# (github.blog/2021-04-05-behind-githubs-new-authentication-token-formats).
_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a GitHub token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{36}\b")),
    ("a GitHub fine-grained token", re.compile(r"\bgithub_pat_\w{82}\b")),
    ("an AWS access key ID", re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b")),
    ("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    ("a Slack token", re.compile(r"\bxox[abposre]-[0-9A-Za-z-]{10,}")),
    ("a private key", re.compile(r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----")),
    ("a JSON Web Token", re.compile(r"\bey[A-Za-z0-9_-]{17,}\.ey[A-Za-z0-9/\\_-]{17,}\.(?:[A-Za-z0-9/\\_-]{10,}={0,2})?")),
)
# scheme://user:password@host (RFC 3986 userinfo): the password is in the URI.
_USERINFO = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?P<user>[^/\s:@]*):(?P<password>[^/\s@]+)@")
#: Names under which a long random value is a credential (env names, ConfigMap keys, annotation keys).
SECRET_NAME = re.compile(r"(?i)(passw(or)?d|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential|auth)")
_NOT_A_VALUE_NAME = re.compile(r"(?i)(_|-|\b)(file|path|dir|name|ref|url|uri|endpoint|mount|kind|type)$")
#: Bits per character above which a value under a secret-like name is taken as random (gitleaks' generic rule uses 3.5).
MIN_ENTROPY = 3.5
_MIN_RANDOM_LENGTH = 16


@dataclass(frozen=True)
class Credential:
    kind: str
    masked: str


def mask(secret: str) -> str:
    """``ghp_…(40 characters)``: enough to find it, not enough to use it."""
    shown = secret[:4] if len(secret) >= 12 else ""
    return f"{shown}…({len(secret)} characters)"


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _random_value(value: str) -> bool:
    return (len(value) >= _MIN_RANDOM_LENGTH and not any(c.isspace() for c in value) and not value.startswith("/")
            and "://" not in value and _entropy(value) >= MIN_ENTROPY)


def find_credentials(value: str, name: str = "") -> list[Credential]:
    """The credentials in ``value`` (a string found under the key or env name ``name``)."""
    found: list[Credential] = []
    for kind, pattern in _FORMATS:
        found += [Credential(kind, mask(match.group(0)) if kind != "a private key" else "a PEM block")
                  for match in pattern.finditer(value)]
    for match in _USERINFO.finditer(value):
        found.append(Credential("a URI with a password", f"{match.group(0)[:match.start('password') - match.start()]}****@"))
    if not found and name and SECRET_NAME.search(name) and not _NOT_A_VALUE_NAME.search(name) and _random_value(value):
        found.append(Credential(f"a random value under the secret-like name {name!r}", mask(value)))
    return found


def _strings(value: Any, path: str, name: str, parents: frozenset[int] = frozenset()) -> Iterator[tuple[str, str, str]]:
    """(field path, name it is stored under, string) for every string in an object.

    ``parents``: the containers above, so that a YAML alias pointing at its own parent ends the walk."""
    if isinstance(value, str):
        yield path, name, value
    elif isinstance(value, (dict, list)) and id(value) not in parents and len(parents) < 200:
        inside = parents | {id(value)}
        if isinstance(value, dict):
            # An env var or a similar {name, value} pair: the value is stored under the entry's name.
            pair_name = str(value["name"]) if isinstance(value.get("name"), str) and "value" in value else None
            for key, item in value.items():
                yield from _strings(item, f"{path}.{key}" if path else str(key),
                                    pair_name if pair_name and key == "value" else str(key), inside)
        else:
            for index, item in enumerate(value):
                yield from _strings(item, f"{path}[{index}]", name, inside)


@rule("MLK-SEC-009", "error", "Values must not look like credentials",
      rationale="The config repo is read by many people and tools; a token, password or key in it is leaked for good "
                "(Git history keeps it after the value is removed).",
      fix="move the value into your secret store and reference it (ExternalSecretSpec / secrets=[SecretMount(...)]) and "
          "rotate the leaked credential (a value that only looks like one can be waived)")
def credential_values(target: Target) -> Iterator[Hit]:
    for path, name, value in _strings(target.obj, "", ""):
        if path.startswith("metadata.annotations.mlkube.dev/waive.") or path.startswith("metadata.annotations.checkov.io/skip"):
            continue  # a waiver's reason is prose about the rule, not a value the workload gets
        for credential in find_credentials(value, name):
            yield Hit(path, f"holds {credential.kind} ({credential.masked})")


def check_output_files(ctx: SynthContext) -> None:
    """An OUTPUTS step: settings end up in files beside the manifests (GitOps.ci_install in workflows, an
    image's env in its Dockerfile); none may carry a credential. Not waivable: move the value to a secret."""
    manifests = {f"{m.environment}/{m.app}/" for m in ctx.manifests}
    for relative, data in sorted(ctx.files.items()):
        if relative.endswith(".yaml") and relative.rsplit("/", 1)[0] + "/" in manifests:
            continue  # manifests: checked by rule MLK-SEC-009, with waivers
        text = data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for credential in find_credentials(line):
                ctx.problems.append(Problem(f"{ctx.out_dir}/{relative}:{number}", "", f"holds {credential.kind} ({credential.masked})",
                                            "remove it from the platform settings (GitOps, Image.build env); CI and Argo CD get "
                                            "credentials from their own secret stores"))
