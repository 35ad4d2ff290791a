"""References between the workloads of one blueprint: a YAML team mounts a CheckpointVolume it declares.

``mounts: [{volume: checkpoints, path: /ckpt, readOnly: true}]`` on any workload that mounts volumes does what
``workload.mount(volume, read_only=True, path="/ckpt")`` does in Python; ``model: {volume: checkpoints, path:
run/final}`` on an InferenceService serves ``pvc://<the volume's claim>/run/final``. A name that is not a
CheckpointVolume of the same blueprint is an error at its file:line.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import Field, ValidationError

from ..core.spec import AbsolutePath, DnsLabel, Spec
from ..errors import Problem
from ..kube.field_path import field_path_text
from .errors import problems_at
from .source import YamlDocument

__all__ = ["VolumeMount", "ModelFromVolume", "VOLUME_KIND", "volume_claims", "take_references"]

VOLUME_KIND = "CheckpointVolume"


class VolumeMount(Spec):
    """A CheckpointVolume of this blueprint mounted into every pod of the workload."""

    volume: DnsLabel = Field(description="Id of a CheckpointVolume workload of this blueprint.")
    path: AbsolutePath | None = Field(default=None, description="Mount path. Default: the volume's mount_path.")
    read_only: bool = Field(default=False, description="Mount read-only (a reader of a single-writer volume). Default: false.")
    env: str = Field(default="CHECKPOINT_DIR", description="Environment variable set to the mount path. Default: CHECKPOINT_DIR.")


class ModelFromVolume(Spec):
    """The model of an InferenceService, read from a CheckpointVolume of this blueprint (mounted read-only)."""

    volume: DnsLabel = Field(description="Id of a CheckpointVolume workload of this blueprint.")
    path: str = Field(default="", description="Folder of the model inside the volume, e.g. 'run/final'. Default: the volume's root.")
    version: DnsLabel | None = Field(default=None, description="A snapshot version of the volume (one of its snapshot.versions): the model is "
                                     "served from a claim restored from that VolumeSnapshot, so it cannot change after review "
                                     "(production requires it). Default: none (the volume itself).")


def volume_claims(workloads: dict[str, Any]) -> dict[str, str]:
    """Id -> claim name of every CheckpointVolume declared in a blueprint's raw workloads."""
    claims = {}
    for workload_id, data in workloads.items():
        if isinstance(data, dict) and data.get("kind") == VOLUME_KIND:
            name = data.get("name")
            claims[workload_id] = name if isinstance(name, str) and name else workload_id
    return claims


def _missing(document: YamlDocument, path: tuple[Any, ...], name: str, claims: dict[str, str]) -> Problem:
    position = document.values.get(path, document.start)
    close = difflib.get_close_matches(name, list(claims), n=1, cutoff=0.6)
    hint = (f"did you mean '{close[0]}'?" if close else
            f"volumes of this blueprint: {', '.join(sorted(claims))}" if claims else
            f"declare it: workloads: {{{name}: {{kind: {VOLUME_KIND}, size: 100Gi}}}}")
    return Problem(document.where(position), field_path_text(path), f"'{name}' is not a {VOLUME_KIND} of this blueprint", hint)


def take_references(document: YamlDocument, workload_id: str, kind: str, fields: dict[str, Any], claims: dict[str, str],
                    mounts_volumes: bool, served: list[tuple[str, str]] | None = None) -> tuple[list[VolumeMount], list[Problem]]:
    """Remove ``mounts`` from ``fields`` and rewrite a ``model: {volume, path[, version]}``; returns the mounts and the problems
    (and appends (volume id, version) of a served snapshot version to ``served``)."""
    served = served if served is not None else []
    path = ("workloads", workload_id)
    problems: list[Problem] = []
    mounts: list[VolumeMount] = []
    raw = fields.pop("mounts", None)
    if raw is not None and not mounts_volumes:
        position = document.keys.get((*path, "mounts"), document.start)
        problems.append(Problem(document.where(position), field_path_text((*path, "mounts")),
                                f"a {kind} does not mount volumes", "mount the volume into a workload that runs pods"))
        raw = None
    if raw is not None and not isinstance(raw, list):
        problems.append(Problem(document.where(document.values.get((*path, "mounts"), document.start)), field_path_text((*path, "mounts")),
                                "mounts must be a list of {volume, path, readOnly}", "mounts: [{volume: checkpoints, path: /ckpt}]"))
        raw = None
    for index, item in enumerate(raw or []):
        try:
            mount = VolumeMount.model_validate(item, by_alias=True, by_name=False)
        except ValidationError as error:
            problems += problems_at(document, error, VolumeMount, (*path, "mounts", index))
            continue
        if mount.volume not in claims:
            problems.append(_missing(document, (*path, "mounts", index, "volume"), mount.volume, claims))
            continue
        mounts.append(mount)
    model = fields.get("model")
    if isinstance(model, dict) and "volume" in model:
        try:
            reference = ModelFromVolume.model_validate(model, by_alias=True, by_name=False)
        except ValidationError as error:
            fields.pop("model")  # reported here; the spec would only add "no discriminator" for the same mapping
            return mounts, problems + problems_at(document, error, ModelFromVolume, (*path, "model"))
        if reference.volume not in claims:
            fields.pop("model")
            problems.append(_missing(document, (*path, "model", "volume"), reference.volume, claims))
        else:
            claim = claims[reference.volume] + (f"-{reference.version}" if reference.version else "")
            fields["model"] = f"pvc://{claim}/{reference.path.strip('/')}".rstrip("/")
            if reference.version:
                served.append((reference.volume, reference.version))
    return mounts, problems
