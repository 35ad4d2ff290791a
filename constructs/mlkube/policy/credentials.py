"""Values that look like credentials: tokens of known formats, URIs with a password, private keys, JWTs,
and high-entropy values under secret-like names. The config repo is readable by many; credentials come
from a secret store (ExternalSecret) or an existing Secret, never from a value in Git.

Reports never contain the credential: only its kind, its first characters and its length (``mask``).
Rule MLK-SEC-009 checks every string of every object (synth and ``validate --policy``); the synth step
``check_output_files`` checks the other files synth writes (workflows, Dockerfiles, images.json).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..credential_patterns import (
    MIN_ENTROPY,
    MIN_RANDOM_LENGTH,
    SECRET_NAME,
    Credential,
    find_credentials,
    has_format_marker,
    mask,
    may_hold_credential,
    may_hold_credentials,
    random_under_secret_name,
    secret_like_name,
)
from ..errors import Problem
from .model import Hit, Target, rule

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["Credential", "find_credentials", "mask", "check_output_files", "SECRET_NAME", "MIN_ENTROPY"]


#: ``json.dumps(obj, ensure_ascii=False)``, a fifth cheaper: one encoder, and no record of the containers being encoded
#: (an object that contains itself then ends in RecursionError rather than ValueError; both are caught).
_json_text = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
#: Containers deeper than this are not walked (a YAML alias bomb ends there).
_MAX_DEPTH = 200


def _path(chain: tuple[Any, ...] | None) -> str:
    """``spec.containers[0].env`` from the linked (parent, key) chain of ``_candidates``."""
    parts: list[str] = []
    while chain is not None:
        chain, key = chain
        parts.append(f"[{key}]" if type(key) is int else (f".{key}" if chain is not None else str(key)))
    return "".join(reversed(parts))


def _candidates(value: Any, chain: tuple[Any, ...] | None, name: str, parents: set[int],
                found: list[tuple[str, str, str]], test: Callable[[str, str], bool] = may_hold_credential) -> None:
    """Append (field path, name it is stored under, string) for every string of an object that may hold a
    credential (``may_hold_credential``); the path is written only for those, as almost no string is one.

    ``parents``: the containers above, so that a YAML alias pointing at its own parent ends the walk."""
    if isinstance(value, str):
        if test(value, name):
            found.append((_path(chain), name, value))
    elif isinstance(value, (dict, list)) and id(value) not in parents and len(parents) < _MAX_DEPTH:
        parents.add(id(value))
        if isinstance(value, dict):
            # An env var or a similar {name, value} pair: the value is stored under the entry's name.
            pair_name = str(value["name"]) if isinstance(value.get("name"), str) and "value" in value else None
            for key, item in value.items():
                _candidates(item, (chain, str(key)), pair_name if pair_name and key == "value" else str(key), parents, found, test)
        else:
            for index, item in enumerate(value):
                _candidates(item, (chain, index), name, parents, found, test)
        parents.discard(id(value))


def _long_strings_under_secret_names(node: Any, chain: tuple[Any, ...] | None, depth: int, found: list[tuple[str, str, str]],
                                     name: str = "") -> None:
    """``_candidates(node, chain, name, ..., test=random_under_secret_name)`` for JSON data (no cycle: ``json.dumps``
    succeeded), at a fraction of its cost: only containers are visited by a call; a string is looked at only when it
    is long enough, and its name only then. ``depth`` counts the containers above ``node`` (``len(parents)``)."""
    if isinstance(node, dict):
        # An env var or a similar {name, value} pair: the value is stored under the entry's name.
        pair_name = str(node["name"]) if isinstance(node.get("name"), str) and "value" in node else None
        for key, item in node.items():
            if isinstance(item, str):
                if len(item) >= MIN_RANDOM_LENGTH:
                    item_name = pair_name if pair_name and key == "value" else str(key)
                    if secret_like_name(item_name):
                        found.append((_path((chain, str(key))), item_name, item))
            elif isinstance(item, (dict, list)) and depth + 1 < _MAX_DEPTH:
                _long_strings_under_secret_names(item, (chain, str(key)), depth + 1, found,
                                                 pair_name if pair_name and key == "value" else str(key))
    elif isinstance(node, list):
        secret_named = secret_like_name(name)  # a list's strings are stored under the list's name
        for index, item in enumerate(node):
            if isinstance(item, str):
                if secret_named and len(item) >= MIN_RANDOM_LENGTH:
                    found.append((_path((chain, index)), name, item))
            elif isinstance(item, (dict, list)) and depth + 1 < _MAX_DEPTH:
                _long_strings_under_secret_names(item, (chain, index), depth + 1, found, name)


@rule("MLK-SEC-009", "error", "Values must not look like credentials",
      rationale="The config repo is read by many people and tools; a token, password or key in it is leaked for good "
                "(Git history keeps it after the value is removed).",
      fix="move the value into your secret store and reference it (ExternalSecretSpec / secrets=[SecretMount(...)]) and "
          "rotate the leaked credential (a value that only looks like one can be waived)")
def credential_values(target: Target) -> Iterator[Hit]:
    test: Callable[[str, str], bool] = may_hold_credential
    try:  # the whole object as text first: most objects have no string a credential could be in
        text = _json_text(target.obj)
        marked = has_format_marker(text)
        if not may_hold_credentials(text, marked):
            return
        if not marked:
            test = random_under_secret_name  # no token format anywhere: only long values under secret-like names
    except (TypeError, ValueError, RecursionError):
        pass  # not JSON data (a YAML alias cycle, a date): every string is tested
    found: list[tuple[str, str, str]] = []
    if test is random_under_secret_name:
        _long_strings_under_secret_names(target.obj, None, 0, found)
    else:
        _candidates(target.obj, None, "", set(), found, test)
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
