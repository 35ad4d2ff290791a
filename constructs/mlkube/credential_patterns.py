"""Recognising credentials in text: tokens of known formats, URIs with a password, private keys, JWTs,
and random values under secret-like names; and masking them. Pure (no mlkube imports), so that error
messages everywhere can be redacted (errors.Problem) and the policy rule can use the same patterns.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["Credential", "find_credentials", "may_hold_credential", "may_hold_credentials", "has_format_marker", "random_under_secret_name",
           "secret_like_name", "mask", "redact", "SECRET_NAME", "MIN_ENTROPY", "MIN_RANDOM_LENGTH", "credential_patterns"]

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
MIN_RANDOM_LENGTH = 16


def credential_patterns() -> list[str]:
    """The patterns of the known formats and of a URI with a password, as regular expressions RE2 (Go) also reads: a
    Helm chart's values.schema.json refuses values that hold one (mlkube.chart.schema)."""
    return [pattern.pattern for _, pattern in _FORMATS] + [_USERINFO.pattern.replace("?P<user>", "").replace("?P<password>", "")]


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
    return (len(value) >= MIN_RANDOM_LENGTH and not any(c.isspace() for c in value) and not value.startswith("/")
            and "://" not in value and _entropy(value) >= MIN_ENTROPY)


#: A substring every match of ``_FORMATS`` contains (a JWT is ``ey...`` "." ``ey...``): a string with none of them
#: cannot match (checked first: synth looks at every string of every object, and almost none holds a credential).
_MARKERS = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "A3T", "AKIA", "ASIA", "ABIA", "ACCA", "hf_", "xox",
            "-----BEGIN", ".ey")
#: Substrings of every match of ``SECRET_NAME``, in lower case.
_NAME_MARKERS = ("passw", "pwd", "secret", "token", "apikey", "api_key", "api-key", "access", "private", "credential", "auth")


#: Any of ``_MARKERS``, in one pass over the text (rather than one pass per marker).
_ANY_MARKER = re.compile("|".join(map(re.escape, _MARKERS)))


def has_format_marker(text: str) -> bool:
    """Whether ``text`` may match a format or ``_USERINFO`` (which needs '://' and '@')."""
    return _ANY_MARKER.search(text) is not None or ("://" in text and "@" in text)


@functools.lru_cache(maxsize=4096)
def secret_like_name(name: str) -> bool:
    """A name under which a long random value is taken as a credential (``API_TOKEN``, not ``TOKEN_FILE``)."""
    return bool(name) and SECRET_NAME.search(name) is not None and _NOT_A_VALUE_NAME.search(name) is None


def random_under_secret_name(value: str, name: str) -> bool:
    """Whether the last test of ``find_credentials`` (a random value under a secret-like name) may find ``value``."""
    return len(value) >= MIN_RANDOM_LENGTH and secret_like_name(name)


def may_hold_credential(value: str, name: str = "") -> bool:
    """False when ``find_credentials(value, name)`` is surely empty (a cheap test before the patterns)."""
    return (len(value) >= MIN_RANDOM_LENGTH and secret_like_name(name)) or has_format_marker(value)


def may_hold_credentials(text: str) -> bool:
    """False when no string in ``text`` (e.g. a whole object as JSON) can hold a credential: none has a marker
    of a format, and no name in it may be secret-like."""
    if has_format_marker(text) or not text.isascii():  # (?i) also matches some non-ASCII letters: walked
        return True
    lowered = text.lower()
    return any(marker in lowered for marker in _NAME_MARKERS)


def find_credentials(value: str, name: str = "") -> list[Credential]:
    """The credentials in ``value`` (a string found under the key or env name ``name``)."""
    found: list[Credential] = []
    if not may_hold_credential(value, name):
        return found
    for kind, pattern in _FORMATS:
        found += [Credential(kind, mask(match.group(0)) if kind != "a private key" else "a PEM block")
                  for match in pattern.finditer(value)]
    for match in _USERINFO.finditer(value):
        found.append(Credential("a URI with a password", f"{match.group(0)[:match.start('password') - match.start()]}****@"))
    if not found and secret_like_name(name) and _random_value(value):
        found.append(Credential(f"a random value under the secret-like name {name!r}", mask(value)))
    return found


def _masked(match: re.Match[str]) -> str:
    return mask(match.group(0))


def redact(text: str) -> str:
    """``text`` with every credential of a known format (and every URI password) replaced by its mask."""
    if not any(marker in text for marker in ("_", "AKIA", "A3T", "ASIA", "ABIA", "ACCA", "xox", "BEGIN", "ey", "://")):
        return text  # fast path: nothing any pattern could match
    for kind, pattern in _FORMATS:
        text = pattern.sub("[PEM block]" if kind == "a private key" else _masked, text)
    return _USERINFO.sub(lambda match: match.group(0)[:match.start("password") - match.start()] + "****@", text)
