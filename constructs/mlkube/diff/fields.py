"""The fields a reviewer wants to see per kind, as comparable values with a display form.

Images show a short digest (and the source revision from the lock file when it knows the digest),
quantities compare by value (``1`` equals ``1000m``), absent values display as ``none``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..kube.manifest import POD_TEMPLATE_PATHS, pod_template
from ..kube.quantity import parse_quantity
from .model import FieldChange, join_path

__all__ = ["FieldValue", "fields_of", "field_changes", "ImageRef", "parse_image", "short_image", "short_model", "containers",
           "template_spec_path", "KSERVE_COMPONENTS", "GPU_RESOURCE", "GPU_PRODUCT_LABEL", "ABSENT"]

#: How Markdown shows an absent value (JSON writes null).
ABSENT = "none"
GPU_RESOURCE = re.compile(r"^nvidia\.com/(gpu|mig-[0-9a-z.]+)$")
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
_DIGEST_HEX = 12
_IMAGE = re.compile(r"^(?P<name>[^@]+?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>[a-z0-9]+:[a-f0-9]+))?$")

#: digest -> source revision, for the object's environment (see ``Side.revision_of``).
RevisionLookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class FieldValue:
    """``compare`` decides whether the field changed; ``display`` is what the table shows."""

    compare: Any
    display: str | None
    #: Field paths (as ``model.changed_paths`` writes them) that this row accounts for.
    paths: tuple[str, ...]
    #: Where the row goes in the table: object-level fields, then the pod's, then per container.
    order: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ImageRef:
    name: str
    tag: str | None
    digest: str | None


def parse_image(reference: str) -> ImageRef:
    """``ghcr.io/acme/fraud:1.4@sha256:ab..`` -> name, tag, digest (a registry port is not a tag)."""
    match = _IMAGE.match(reference)
    if not match or "/" in (match.group("tag") or ""):
        return ImageRef(reference, None, None)
    return ImageRef(match.group("name"), match.group("tag"), match.group("digest"))


def short_image(reference: str, revision_of: RevisionLookup | None = None) -> str:
    """The reference with its digest cut to 12 hex digits, plus the lock's source revision if known."""
    image = parse_image(reference)
    if not image.digest:
        return reference
    algorithm, _, hex_digits = image.digest.partition(":")
    text = image.name + (f":{image.tag}" if image.tag else "") + f"@{algorithm}:{hex_digits[:_DIGEST_HEX]}"
    revision = revision_of(image.digest) if revision_of else None
    return f"{text} (source {revision[:_DIGEST_HEX]})" if revision else text


def template_spec_path(kind: str) -> str:
    """Where the pod spec of ``kind`` lives, as a field path: ``spec.template.spec``."""
    parts = POD_TEMPLATE_PATHS.get(kind, ("spec", "template"))
    return ".".join((*parts, "spec"))


def containers(pod_spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(list name, container name, container) for init containers and containers."""
    for group in ("initContainers", "containers"):
        for index, container in enumerate(pod_spec.get(group) or []):
            if isinstance(container, dict):
                yield group, str(container.get("name", index)), container


def _quantity(value: Any) -> Any:
    if value is None:
        return None
    try:
        return parse_quantity(value)
    except ValueError:
        return str(value)


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "[]"
    return str(value)


def _plain(value: Any, *paths: str) -> FieldValue:
    return FieldValue(value, _shown(value), paths)


def _volume_source(volume: dict[str, Any]) -> str:
    """``models (persistentVolumeClaim models)``: a pod volume's name, source type and what it names."""
    name = str(volume.get("name", ""))
    kind = next((key for key in sorted(volume) if key != "name"), "")
    source = volume.get(kind)
    target = None
    if isinstance(source, dict):
        target = source.get("claimName") or source.get("name") or source.get("secretName") or source.get("path")
    return f"{name} ({kind} {target})" if target else f"{name} ({kind})"


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _pod_fields(base: str, pod_spec: dict[str, Any], revision_of: RevisionLookup | None,
                prefix: str = "", rank: tuple[Any, ...] = ()) -> dict[str, FieldValue]:
    """GPU product, volumes and per-container rows of the pod spec at field path ``base``; ``prefix``
    names the part of the object the pod belongs to (a KServe component, a JobSet replicated job)."""
    found: dict[str, FieldValue] = {}
    product = _dig(pod_spec, "nodeSelector", GPU_PRODUCT_LABEL)
    if product is not None:
        found[_label(prefix, "GPU product")] = FieldValue(
            product, str(product), (join_path(f"{base}.nodeSelector", GPU_PRODUCT_LABEL),), (*rank, 1, 0))
    volumes = sorted(_volume_source(v) for v in pod_spec.get("volumes") or [] if isinstance(v, dict))
    if volumes:
        found[_label(prefix, "volumes")] = FieldValue(volumes, ", ".join(volumes), (f"{base}.volumes",), (*rank, 1, 1))
    for group, name, container in containers(pod_spec):
        label = " ".join(filter(None, (prefix, "init" if group == "initContainers" else "", name)))
        model = _downloaded_model(group, name, container)
        if model is not None:  # the model is its own row: a new revision shows even when nothing else changed
            found[_label(prefix, "model")] = FieldValue(model, short_model(model), (f"{base}.{group}[{name}].args",), (*rank, 1, 2))
        found.update(_container_fields(label, f"{base}.{group}[{name}]", container, revision_of,
                                       (*rank, 2, group != "initContainers", name)))
    return found


def _downloaded_model(group: str, name: str, container: dict[str, Any]) -> str | None:
    """The URI mlkube's model-downloader init container fetches (its first argument)."""
    args = container.get("args")
    if group == "initContainers" and name == "model-downloader" and isinstance(args, list) and args and isinstance(args[0], str):
        return args[0]
    return None


_HF_COMMIT_SUFFIX = re.compile(r"^(hf://[^:@\s]+)[:@]([0-9a-f]{40})$")


def short_model(uri: Any) -> str | None:
    """A model URI with a Hugging Face commit cut to 12 hex digits, like an image digest (``hf://org/name@0123456789ab``)."""
    match = _HF_COMMIT_SUFFIX.match(uri) if isinstance(uri, str) else None
    if match:
        return f"{match[1]}@{match[2][:_DIGEST_HEX]}"
    if isinstance(uri, str) and uri.startswith(("s3://", "gs://")) and "?" in uri:
        from ..core.model_fetch import MANIFEST_KEY

        # A pinned object set (model_fetch.py): its location and its manifest digest, cut like an image digest.
        location, _, query = uri.partition("?")
        digest = dict(urllib.parse.parse_qsl(query)).get(MANIFEST_KEY, "")
        return f"{location}@{digest.removeprefix('sha256:')[:_DIGEST_HEX]}" if digest else _shown(uri)
    return short_image(uri) if isinstance(uri, str) and uri.startswith("oci://") else _shown(uri)


def _label(prefix: str, field: str) -> str:
    return f"{prefix}: {field}" if prefix else field


def _container_fields(label: str, path: str, container: dict[str, Any], revision_of: RevisionLookup | None,
                      order: tuple[Any, ...]) -> dict[str, FieldValue]:
    """Image, cpu and memory requests and GPUs of one container at field path ``path``."""
    found: dict[str, FieldValue] = {}
    image = container.get("image")
    if image is not None:
        found[f"{label}: image"] = FieldValue(str(image), short_image(str(image), revision_of), (f"{path}.image",), (*order, 0))
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    for rank, resource in enumerate(("cpu", "memory"), start=1):
        value = requests.get(resource)
        if value is not None:
            found[f"{label}: {resource} request"] = FieldValue(
                _quantity(value), _shown(value), (join_path(f"{path}.resources.requests", resource),), (*order, rank))
    for resource in sorted(set(requests) | set(limits)):
        if GPU_RESOURCE.match(str(resource)):
            # Extended resources may be given as limits only (the request then equals the limit).
            value = requests.get(resource, limits.get(resource))
            paths = (join_path(f"{path}.resources.requests", resource), join_path(f"{path}.resources.limits", resource))
            found[f"{label}: {resource}"] = FieldValue(_quantity(value), _shown(value), paths, (*order, 3, resource))
    return found


#: The components of a KServe InferenceService, each a pod spec plus scaling fields.
KSERVE_COMPONENTS = ("predictor", "transformer", "explainer")


def _kserve_fields(spec: dict[str, Any], revision_of: RevisionLookup | None) -> dict[str, FieldValue]:
    """Per component: replica range, and the pod; the predictor's ``model`` is one more container,
    with the model's storage URI (both read by the KServe controller, which renders the Deployment)."""
    found: dict[str, FieldValue] = {}
    for index, component in enumerate(KSERVE_COMPONENTS):
        body = spec.get(component)
        if not isinstance(body, dict):
            continue
        base, rank = f"spec.{component}", (1, index)
        for field, key in (("min replicas", "minReplicas"), ("max replicas", "maxReplicas")):
            if key in body:
                found[f"{component}: {field}"] = FieldValue(body[key], _shown(body[key]), (f"{base}.{key}",), (*rank, 0))
        model = body.get("model")
        if isinstance(model, dict):
            uri = model.get("storageUri")
            found[f"{component}: model storage URI"] = FieldValue(uri, short_model(uri), (f"{base}.model.storageUri",), (*rank, 0))
            found.update(_container_fields(f"{component} model", f"{base}.model", model, revision_of, (*rank, 2, True, "")))
        found.update(_pod_fields(base, body, revision_of, component, rank))
    return found


def _jobset_fields(spec: dict[str, Any], revision_of: RevisionLookup | None) -> dict[str, FieldValue]:
    """Per replicated job: how many Jobs, their parallelism and completions, and the pod."""
    found: dict[str, FieldValue] = {}
    for index, replicated in enumerate(spec.get("replicatedJobs") or []):
        if not isinstance(replicated, dict):
            continue
        name = str(replicated.get("name", index))
        base, rank = f"spec.replicatedJobs[{name}]", (1, name)
        job = _dig(replicated, "template", "spec") or {}
        found[f"{name}: replicas"] = FieldValue(replicated.get("replicas", 1), _shown(replicated.get("replicas", 1)),
                                                (f"{base}.replicas",), (*rank, 0, 0))
        for position, key in enumerate(("parallelism", "completions"), start=1):
            if key in job:
                found[f"{name}: {key}"] = FieldValue(job[key], _shown(job[key]), (f"{base}.template.spec.{key}",), (*rank, 0, position))
        pod_spec = _dig(job, "template", "spec")
        if isinstance(pod_spec, dict):
            found.update(_pod_fields(f"{base}.template.spec.template.spec", pod_spec, revision_of, name, rank))
    return found


def _kind_fields(kind: str, obj: dict[str, Any]) -> dict[str, FieldValue]:
    given = obj.get("spec")
    spec: dict[str, Any] = given if isinstance(given, dict) else {}
    found: dict[str, FieldValue] = {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        found["replicas"] = _plain(spec.get("replicas"), "spec.replicas")
    if kind == "HorizontalPodAutoscaler":
        found["min replicas"] = _plain(spec.get("minReplicas"), "spec.minReplicas")
        found["max replicas"] = _plain(spec.get("maxReplicas"), "spec.maxReplicas")
    if kind == "ScaledObject":  # KEDA
        found["min replicas"] = _plain(spec.get("minReplicaCount"), "spec.minReplicaCount")
        found["max replicas"] = _plain(spec.get("maxReplicaCount"), "spec.maxReplicaCount")
    if kind == "CronJob":
        found["schedule"] = _plain(spec.get("schedule"), "spec.schedule")
        if "suspend" in spec:
            found["suspend"] = _plain(spec.get("suspend"), "spec.suspend")
    if kind in ("Application", "ApplicationSet") and str(obj.get("apiVersion", "")).startswith("argoproj.io/"):
        found.update(_chart_fields(kind, obj, spec))
    if kind == "PersistentVolumeClaim":
        found.update(_claim_fields(spec, "spec", ""))
    if kind == "StatefulSet":
        for index, template in enumerate(spec.get("volumeClaimTemplates") or []):
            name = str(_dig(template, "metadata", "name") or index)
            found.update(_claim_fields(template.get("spec") or {}, f"spec.volumeClaimTemplates[{name}].spec", f"claim {name}: "))
    return found


#: The annotation mlkube.chart.argocd writes with the chart's version (the source names it by digest).
_CHART_VERSION = "mlkube.dev/chart-version"


def _short_chart(repository: Any, digest: Any, version: Any) -> str:
    """``oci://repo@sha256:<12 hex> (version)``: a chart deployed by digest, like an image row."""
    text = str(repository)
    if isinstance(digest, str) and ":" in digest:
        algorithm, _, hex_digits = digest.partition(":")
        text += f"@{algorithm}:{hex_digits[:_DIGEST_HEX]}"
    elif digest:
        text += f" {digest}"
    return text + (f" ({version})" if version else "")


def _chart_fields(kind: str, obj: dict[str, Any], spec: dict[str, Any]) -> dict[str, FieldValue]:
    """The Helm chart (OCI source, GitOps(source='chart')) an Application deploys, or each ApplicationSet element's: its
    own row, so a new chart digest is not lost among an Application's other fields."""
    found: dict[str, FieldValue] = {}
    if kind == "Application":
        raw = spec.get("source")
        source: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if str(source.get("repoURL", "")).startswith("oci://"):
            version = _dig(obj, "metadata", "annotations", _CHART_VERSION)
            found["chart"] = FieldValue((source["repoURL"], source.get("targetRevision")),
                                        _short_chart(source["repoURL"], source.get("targetRevision"), version),
                                        ("spec.source.targetRevision", "spec.source.repoURL", f"metadata.annotations.{_CHART_VERSION}"))
        return found
    for generator in spec.get("generators") or []:
        for inner in (_dig(generator, "matrix", "generators") or [generator]):
            for index, element in enumerate(_dig(inner, "list", "elements") or []):
                if isinstance(element, dict) and "chartRepoURL" in element:
                    found[f"chart {element.get('folder', index)}"] = FieldValue(
                        (element["chartRepoURL"], element.get("chartDigest")),
                        _short_chart(element["chartRepoURL"], element.get("chartDigest"), element.get("chartVersion")), ())
    return found


def _claim_fields(spec: dict[str, Any], path: str, label: str) -> dict[str, FieldValue]:
    storage = _dig(spec, "resources", "requests", "storage")
    modes = spec.get("accessModes")
    return {
        f"{label}storage": FieldValue(_quantity(storage), _shown(storage), (f"{path}.resources.requests.storage",)),
        f"{label}storage class": _plain(spec.get("storageClassName"), f"{path}.storageClassName"),
        f"{label}access modes": FieldValue(sorted(modes) if isinstance(modes, list) else modes, _shown(modes),
                                           (f"{path}.accessModes",)),
    } | ({f"{label}volume mode": _plain(spec.get("volumeMode"), f"{path}.volumeMode")} if "volumeMode" in spec else {})


def fields_of(obj: dict[str, Any], revision_of: RevisionLookup | None = None) -> dict[str, FieldValue]:
    """The fields that matter for this object's kind, by row label."""
    kind = str(obj.get("kind", ""))
    found = _kind_fields(kind, obj)
    template = pod_template(obj)
    if template is not None:
        pod_spec = obj.get("spec") if kind == "Pod" else template.get("spec")
        if isinstance(pod_spec, dict):
            found.update(_pod_fields(template_spec_path(kind), pod_spec, revision_of))
    spec = obj.get("spec")
    if isinstance(spec, dict) and kind == "InferenceService" and str(obj.get("apiVersion", "")).startswith("serving.kserve.io/"):
        found.update(_kserve_fields(spec, revision_of))
    if isinstance(spec, dict) and kind == "JobSet" and str(obj.get("apiVersion", "")).startswith("jobset.x-k8s.io/"):
        found.update(_jobset_fields(spec, revision_of))
    return found


def field_changes(old: dict[str, FieldValue], new: dict[str, FieldValue]) -> list[FieldChange]:
    """Rows whose value differs: object-level fields, then the pod's, then per container (image, cpu,
    memory, GPUs)."""
    rows = []
    position = {label: (value.order, index) for index, (label, value) in enumerate([*old.items(), *new.items()])}
    for label in sorted(set(old) | set(new), key=lambda text: (position[text], text)):
        before, after = old.get(label), new.get(label)
        if (before.compare if before else None) != (after.compare if after else None):
            rows.append(FieldChange(label, before.display if before else None, after.display if after else None))
    return rows
