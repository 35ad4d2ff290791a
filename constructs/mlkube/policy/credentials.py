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

from ..credential_patterns import MIN_ENTROPY, SECRET_NAME, Credential, find_credentials, mask
from ..errors import Problem
from .model import Hit, Target, rule

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["Credential", "find_credentials", "mask", "check_output_files", "SECRET_NAME", "MIN_ENTROPY"]


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
