"""Values that look like credentials: tokens of known formats, URIs with a password, private keys, JWTs,
and high-entropy values under secret-like names. The config repo is readable by many; credentials come
from a secret store (ExternalSecret) or an existing Secret, never from a value in Git.

Reports never contain the credential: only its kind, its first characters and its length (``mask``).
Rule MLK-SEC-009 checks every string of every object (synth and ``validate --policy``); the synth step
``check_output_files`` checks the other files synth writes (workflows, Dockerfiles, images.json).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..credential_patterns import (
    MIN_ENTROPY,
    MIN_RANDOM_LENGTH,
    SECRET_NAME,
    Credential,
    find_credentials,
    has_format_marker,
    mask,
    secret_like_name,
)
from ..errors import Problem
from .model import Hit, Target, rule

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["Credential", "find_credentials", "mask", "check_output_files", "SECRET_NAME", "MIN_ENTROPY"]


#: Containers deeper than this are not walked (a YAML alias bomb ends there).
_MAX_DEPTH = 200


def _path(chain: tuple[Any, ...] | None) -> str:
    """``spec.containers[0].env`` from the linked (parent, key) chain of ``_candidates``."""
    parts: list[str] = []
    while chain is not None:
        chain, key = chain
        parts.append(f"[{key}]" if type(key) is int else (f".{key}" if chain is not None else str(key)))
    return "".join(reversed(parts))


#: ``has_format_marker`` of strings seen before: objects repeat the same few thousand strings (labels, images,
#: the downloader's script), so each is scanned once. Cleared when full, to bound memory at any size.
_MARKED: dict[str, bool] = {}
_MARKED_MAX = 1 << 16


def _marked(value: str) -> bool:
    """``has_format_marker(value)``, remembered (see ``_MARKED``)."""
    if len(_MARKED) >= _MARKED_MAX:
        _MARKED.clear()
    marked = _MARKED[value] = has_format_marker(value)
    return marked


def _candidates(value: Any, chain: tuple[Any, ...] | None, name: str, parents: set[int], found: list[tuple[str, str, str]]) -> None:
    """Append (field path, name it is stored under, string) for every string of an object that may hold a
    credential (``may_hold_credential``); the path is written only for those, as almost no string is one.
    A call per container, not per value, and a string's marker scan once per distinct string: synth runs this on
    every object.

    ``parents``: the containers above, so that a YAML alias pointing at its own parent ends the walk."""
    if isinstance(value, str):
        if (len(value) >= MIN_RANDOM_LENGTH and secret_like_name(name)) or has_format_marker(value):
            found.append((_path(chain), name, value))
        return
    if not isinstance(value, (dict, list)) or id(value) in parents or len(parents) >= _MAX_DEPTH:
        return
    parents.add(id(value))
    if isinstance(value, dict):
        # An env var or a similar {name, value} pair: the value is stored under the entry's name.
        pair_name = str(value["name"]) if isinstance(value.get("name"), str) and "value" in value else None
        for key, item in value.items():
            if isinstance(item, str):
                marked = _MARKED.get(item)
                if marked is None:
                    marked = _marked(item)
                if marked or len(item) >= MIN_RANDOM_LENGTH:  # may_hold_credential, the cheap part first
                    item_name = pair_name if pair_name and key == "value" else str(key)
                    if marked or secret_like_name(item_name):
                        found.append((_path((chain, str(key))), item_name, item))
            elif isinstance(item, (dict, list)):
                _candidates(item, (chain, str(key)), pair_name if pair_name and key == "value" else str(key), parents, found)
    else:
        secret_named = secret_like_name(name)  # the name a list's strings are stored under
        for index, item in enumerate(value):
            if isinstance(item, str):
                marked = _MARKED.get(item)
                if marked is None:
                    marked = _marked(item)
                if marked or (secret_named and len(item) >= MIN_RANDOM_LENGTH):
                    found.append((_path((chain, index)), name, item))
            elif isinstance(item, (dict, list)):
                _candidates(item, (chain, index), name, parents, found)
    parents.discard(id(value))


@rule("MLK-SEC-009", "error", "Values must not look like credentials",
      rationale="The config repo is read by many people and tools; a token, password or key in it is leaked for good "
                "(Git history keeps it after the value is removed).",
      fix="move the value into your secret store and reference it (ExternalSecretSpec / secrets=[SecretMount(...)]) and "
          "rotate the leaked credential (a value that only looks like one can be waived)")
def credential_values(target: Target) -> Iterator[Hit]:
    found: list[tuple[str, str, str]] = []
    _candidates(target.obj, None, "", set(), found)
    for path, name, value in found:
        if path.startswith(("metadata.annotations.mlkube.dev/waive.", "metadata.annotations.checkov.io/skip")):
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
