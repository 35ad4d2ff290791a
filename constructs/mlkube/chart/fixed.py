"""What a chart fixes at export must be safe to fix: images by digest, model URIs in the form the export checked.

- Images that are not parameters (sidecars, init containers, the model downloader, a workload without an
  image parameter) are written into the templates as they are. A chart is deployed by its own digest
  (chart/pins.py): a tag inside it would let the registry change what runs under the same chart digest.
  So every such image must be pinned by digest at export (``mlkube pin`` first), else the export is refused.
- A model URI parameter was probed with values of the default's own scheme (``<default>-probe``), so the
  chart is proven only for that scheme: another scheme changes more than the string (a pvc:// model mounts a
  claim and has no downloader; hf:// reads a token). The schema keeps the scheme, and keeps a pinned model
  pinned: an immutable default (a Hugging Face commit, an OCI digest, an S3/GCS version manifest;
  core/model.ModelReference.immutable), or an environment that requires pinned models (production,
  require_pinned_images: pinning/models.py), allows only the immutable form of a pinnable scheme, as synth would.
- A model read from a volume (pvc://) is not a candidate at all: its claim decides the pod's volumes.
"""

from __future__ import annotations

from typing import Any

from ..core.image import is_digest_reference
from ..core.model import ModelReference
from ..errors import MlkubeError, Problem
from ..kube.field_path import field_path_text
from ..kube.render import to_yaml
from ..pinning.scan import scan_images
from .parameters import Parameter

__all__ = ["fixed_images", "refuse_unpinned_fixed_images", "model_value_schema", "model_rule"]

#: The immutable forms of the pinnable schemes (core/model.py: _HF_URI with a 40-hex commit, _OCI_DIGEST, and an S3/GCS
#: object set under its version manifest), as RE2 patterns. A manifest's digest is checked by synth, not by this shape.
IMMUTABLE_MODEL = {"hf": r"^hf://[^/:@\s]+/[^/:@\s]+[:@][0-9a-f]{40}$", "oci": r"^oci://[^@\s]+@sha256:[0-9a-f]{64}$",
                   **{scheme: rf"^{scheme}://[^?\s]+\?versionManifest=sha256:[0-9a-f]{{64}}(&[^&=\s]+=[^&\s]+)+$" for scheme in ("s3", "gs")}}


def fixed_images(objects: dict[str, dict[str, Any]], parameters: list[Parameter]) -> list[tuple[str, str, str, str]]:
    """(file, field path, container, image) of every image the templates write as exported (not an image parameter)."""
    bound = {(b.file, field_path_text(b.path)) for p in parameters if p.type == "image" and not p.fixed for b in p.bindings}
    found = []
    for file, obj in sorted(objects.items()):
        for scalar in scan_images(to_yaml(obj)):
            if (file, scalar.field) not in bound:
                found.append((file, scalar.field, scalar.container, scalar.value))
    return found


def refuse_unpinned_fixed_images(app: str, environment: str, images: list[tuple[str, str, str, str]]) -> None:
    problems = [Problem(f"templates/{file}", field, f"container '{container}' image {image!r} would be fixed in the chart by tag: "
                        "the chart's digest would not name what runs",
                        f"pin it first (mlkube pin --resolve, or let CI pin {environment}), then export again")
                for file, field, container, image in images if not is_digest_reference(image)]
    if problems:
        raise MlkubeError(problems, title=f"the chart of '{app}' in '{environment}' cannot be exported; nothing was written")


def _requires_immutable(parameter: Parameter, pinned_models: bool) -> str:
    reference = ModelReference(str(parameter.default))
    return reference.scheme if reference.scheme in IMMUTABLE_MODEL and (reference.immutable or pinned_models) else ""


def model_value_schema(parameter: Parameter, pinned_models: bool, described: dict[str, Any]) -> dict[str, Any]:
    """The schema of a model URI parameter: its default's scheme, pinned where the default or the environment is."""
    reference = ModelReference(str(parameter.default))
    scheme = _requires_immutable(parameter, pinned_models)
    pattern = IMMUTABLE_MODEL[scheme] if scheme else f"^{reference.scheme}://"
    return {**described, "type": "string", "pattern": pattern}


def model_rule(parameter: Parameter, pinned_models: bool) -> str:
    """The README's words for the rule model_value_schema states."""
    reference = ModelReference(str(parameter.default))
    scheme = _requires_immutable(parameter, pinned_models)
    if scheme == "hf":
        return " Must stay pinned: hf://org/name@<40-hex commit>."
    if scheme == "oci":
        return " Must stay pinned: oci://...@sha256:<digest>."
    if scheme:
        return f" Must stay pinned: {scheme}://...?versionManifest=sha256:<digest>&<object>=<version>... (mlkube pin writes it)."
    return f" Must keep the scheme {reference.scheme}:// (the export checked that scheme only)."
