"""Model pins: the lock's ``models`` section, applied at synth, required in production, written by ``mlkube pin``.

Per environment, the model URI as the manifests carry it (the downloader's form) -> its immutable form
and where it came from::

    "models": {"hf://distilbert/sst2": {"pinned": "hf://distilbert/sst2@<40-hex commit>",
               "source": {"via": "resolve", "from": "https://huggingface.co/api/models/distilbert/sst2/revision/main",
                          "revision": "<git sha of the config repo>"}}}

``via`` is ``resolve`` (``mlkube pin --resolve``) or ``file`` (``mlkube pin --models FILE``).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..core.model import ModelReference, download_form
from ..errors import MlkubeError, Problem
from .bucket_resolvers import GcsResolver, S3Resolver
from .fields import NOT_IMAGE_KINDS, Chain, ImageField, field_path, image_field
from .lock import ALLOW_UNPINNED_ENV, Lock, load_lock, model_pin_problems

if TYPE_CHECKING:
    from ..core.synth import SynthContext
    from ..kube.manifest import Manifest
    from .registry import RegistryClient

__all__ = ["ModelField", "model_fields", "lock_fields", "model_places", "ModelPlace", "PinnedModelRules", "model_pin_problems", "apply_model_lock", "apply_model_pins", "ModelPins", "require_pinned_models",
           "tree_models", "model_values", "locked_model_problems", "pins_from_file", "HuggingFaceResolver", "S3Resolver", "GcsResolver", "resolve_oci", "plan_model_pins", "model_replacements"]

DOWNLOADER = "model-downloader"
#: Schemes whose versions KServe's storage initializer cannot fetch (see ModelField.honours_pins).
KSERVE_UNVERSIONED = ("s3", "gs")
KSERVE_S3_HINT = ("KServe's storage initializer downloads the current objects of an s3:// or gs:// prefix and cannot fetch "
                  "versions (storage.py _download_s3/_download_gcs, KServe 0.15-0.17): serve it with backend='kubernetes' (mlkube's "
                  "versioned downloader), or package it as an OCI artifact (mlkube model package) and use oci://...@sha256:<digest>")


@dataclass
class ModelField:
    """One model URI in an object: its field path, its parent and the key (or index) that holds it."""

    path: str
    parent: Any
    key: Any

    @property
    def value(self) -> str:
        return str(self.parent[self.key])

    @property
    def honours_pins(self) -> bool:
        """Whether what reads this field downloads a pinned form exactly: KServe's storage initializer (a ``storageUri``)
        does not for s3:// and gs://: it lists the prefix and downloads its current objects, and it ignores a query
        (kserve/kserve v0.15.2 python/kserve/kserve/storage/storage.py _download_s3/_download_gcs)."""
        return not (self.key == "storageUri" and self.value.split("://", 1)[0] in KSERVE_UNVERSIONED)


def model_fields(obj: dict[str, Any] | list[Any]) -> list[ModelField]:
    """KServe predictors' ``storageUri`` and the first argument of mlkube's model-downloader init containers, outermost
    mapping first (``fields.mappings``' order). Synth asks this of every object and almost none holds a model: the walk
    appends to one list and writes a field path only where a model is."""
    found: list[tuple[Chain, Any, Any]] = []
    if isinstance(obj, dict):
        _models_in_mapping(obj, None, found)
    elif isinstance(obj, list):
        _models_in_list(obj, None, found)
    return [_model_field(chain, parent, key) for chain, parent, key in found]


def lock_fields(obj: dict[str, Any]) -> tuple[list[ImageField], list[ModelField]]:
    """``(image_fields(obj), model_fields(obj))`` in one walk: synth's lock transform asks both of every object on every
    run (``synth_steps.apply_locks``), and each walk took 0.06 s over the 5,031 objects of bench/platform_app.py."""
    kind = obj.get("kind")
    if isinstance(kind, str) and kind in NOT_IMAGE_KINDS:
        return [], model_fields(obj)
    images: list[tuple[Chain, dict[str, Any]]] = []
    models: list[tuple[Chain, Any, Any]] = []
    _lock_fields_in_mapping(obj, None, images, models)
    return [image_field(chain, mapping) for chain, mapping in images], [_model_field(chain, parent, key) for chain, parent, key in models]


def _model_field(chain: Chain, parent: Any, key: Any) -> ModelField:
    return ModelField(f"{field_path(chain)}.{'storageUri' if key == 'storageUri' else 'args[0]'}".lstrip("."), parent, key)


def _add_models_of(node: dict[str, Any], chain: Chain, found: list[tuple[Chain, Any, Any]]) -> None:
    """The model URIs ``node`` itself holds: a predictor's ``storageUri`` (not a pvc:// one), the downloader's first argument."""
    uri = node.get("storageUri")
    if isinstance(uri, str) and not uri.startswith("pvc://"):
        found.append((chain, node, "storageUri"))
    if node.get("name") == DOWNLOADER:
        args = node.get("args")
        if isinstance(args, list) and args and isinstance(args[0], str):
            found.append((chain, args, 0))


def _models_in_mapping(node: dict[str, Any], chain: Chain, found: list[tuple[Chain, Any, Any]]) -> None:
    _add_models_of(node, chain, found)
    for key, value in node.items():
        if isinstance(value, dict):
            _models_in_mapping(value, (chain, key, False), found)
        elif isinstance(value, list):
            _models_in_list(value, (chain, key, False), found)


def _models_in_list(node: list[Any], chain: Chain, found: list[tuple[Chain, Any, Any]]) -> None:
    for index, value in enumerate(node):
        if isinstance(value, dict):
            _models_in_mapping(value, (chain, index, True), found)
        elif isinstance(value, list):
            _models_in_list(value, (chain, index, True), found)


def _lock_fields_in_mapping(node: dict[str, Any], chain: Chain, images: list[tuple[Chain, dict[str, Any]]],
                            models: list[tuple[Chain, Any, Any]]) -> None:
    if isinstance(node.get("image"), str):  # fields.py's rule (kbld's)
        images.append((chain, node))
    _add_models_of(node, chain, models)
    for key, value in node.items():
        if isinstance(value, dict):
            _lock_fields_in_mapping(value, (chain, key, False), images, models)
        elif isinstance(value, list):
            _lock_fields_in_list(value, (chain, key, False), images, models)


def _lock_fields_in_list(node: list[Any], chain: Chain, images: list[tuple[Chain, dict[str, Any]]],
                         models: list[tuple[Chain, Any, Any]]) -> None:
    for index, value in enumerate(node):
        if isinstance(value, dict):
            _lock_fields_in_mapping(value, (chain, index, True), images, models)
        elif isinstance(value, list):
            _lock_fields_in_list(value, (chain, index, True), images, models)


def _pins(lock: Lock, env: str) -> dict[str, str]:
    return {uri: entry["pinned"] for uri, entry in lock.models.get(env, {}).items() if isinstance(entry, dict)}


class ModelPins:
    """The lock's model pins of each environment: the URI as the manifests carry it -> its pinned form."""

    def __init__(self, lock: Lock) -> None:
        self.lock = lock
        self._by_environment: dict[str, dict[str, str]] = {}

    @classmethod
    def of(cls, out_dir: Path) -> ModelPins | None:
        """The pins of the lock synth reads, or None when it pins no model (or cannot be read: ``apply_lock`` says so)."""
        try:
            lock = load_lock(out_dir)
        except MlkubeError:
            return None
        return cls(lock) if lock.models else None

    def of_environment(self, env: str) -> dict[str, str]:
        pins = self._by_environment.get(env)
        if pins is None:
            pins = self._by_environment[env] = _pins(self.lock, env)
        return pins


def apply_model_pins(fields: list[ModelField], pins: dict[str, str]) -> None:
    """Each of ``fields`` whose URI is pinned, and whose reader honours a pin, gets its pinned form (the downloader's syntax)."""
    for found in fields:
        pinned = pins.get(download_form(found.value))
        if pinned and found.honours_pins:
            found.parent[found.key] = download_form(pinned)


def apply_model_lock(ctx: SynthContext) -> None:
    """TRANSFORM: a model URI locked for its environment becomes its pinned form (in the downloader's syntax)."""
    models = ModelPins.of(ctx.out_dir)
    if models is None:
        return
    for manifest in ctx.manifests:
        pins = models.of_environment(manifest.environment)
        if pins:
            apply_model_pins(model_fields(manifest.obj), pins)


#: What ``require_pinned_models`` needs of one model field: its path, its value and whether a pin would be honoured.
ModelPlace = tuple[str, str, bool]


def model_places(obj: dict[str, Any]) -> tuple[ModelPlace, ...]:
    """The model fields of ``obj`` as data (synth's cache keeps them per object: incremental/steps.py)."""
    return tuple((found.path, found.value, found.honours_pins) for found in model_fields(obj))


def require_pinned_models(ctx: SynthContext) -> None:
    """CHECK: production (and require_pinned_images) environments serve only immutable model references."""
    rules = PinnedModelRules(ctx)
    for manifest in ctx.manifests:
        rules.check(manifest, model_places(manifest.obj))


class PinnedModelRules:
    """``require_pinned_models`` for one object's model fields at a time (the cache hands over the fields it kept)."""

    def __init__(self, ctx: SynthContext) -> None:
        self.ctx = ctx
        self.required = {env.name for env in ctx.platform.environments if env.require_pinned_images or env.production}
        self.allowed = os.environ.get(ALLOW_UNPINNED_ENV) == "1"
        self.allow_env = ALLOW_UNPINNED_ENV

    def check(self, manifest: Manifest, places: Sequence[ModelPlace]) -> None:
        ctx = self.ctx
        for path, value, honours_pins in places:
            ref = ModelReference(value)
            if not honours_pins:
                if ref.versioned:
                    ctx.problems.append(Problem(manifest.where, path, f"{manifest.describe()}: KServe would ignore the versions of "
                                                f"{value[:120]!r} and serve the objects the prefix holds when the pod starts",
                                                KSERVE_S3_HINT))
                elif manifest.environment in self.required:
                    ctx.warnings.append(f"{manifest.where}: {manifest.describe()}: model {value!r} can change after review; {KSERVE_S3_HINT}")
                continue
            if ref.immutable or manifest.environment not in self.required:
                continue
            text = (f"{manifest.describe()}: model {value!r} can change after review, "
                    f"and environment {manifest.environment!r} requires pinned models")
            if not ref.pinnable:
                # No immutable form the default downloader honours: say so on every synth, do not block.
                ctx.warnings.append(f"{manifest.where}: {text}; {ref.pin_hint()}")
            elif self.allowed:
                ctx.warnings.append(f"{manifest.where}: {text} ({self.allow_env}=1)")
            else:
                ctx.problems.append(Problem(manifest.where, path, text, ref.pin_hint()))


#: libyaml's parser with PyYAML's safe constructor: the same objects as yaml.safe_load_all, parsed in C (the pure
#: Python parser took 13.7 s of `mlkube pin` on 5,031 files; bench/run.py).
_LIBYAML_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MODEL_MARKERS = (b"storageUri", DOWNLOADER.encode())


def _may_name_a_model(data: bytes) -> bool:
    """Whether a file can hold a model field (``_model_places``): its key or the downloader's name is in the text, or
    a backslash could spell either in a double-quoted scalar. Most files (Services, policies) are not parsed at all."""
    return b"\\" in data or any(marker in data for marker in _MODEL_MARKERS)


def tree_models(dist: Path, environments: set[str], lock: Lock) -> dict[str, set[str]]:
    """Model URI -> environments (of ``environments``) whose manifests in ``dist`` use it (a value synth pinned from
    the lock counts as the locked URI, so that pinning again re-resolves it)."""
    from .tree import _manifest_files

    locked = {(env, download_form(pinned)): uri for env in environments for uri, pinned in _pins(lock, env).items()}
    used: dict[str, set[str]] = {}
    for env, path in _manifest_files(dist):
        if env not in environments:
            continue
        try:
            data = Path(path).read_bytes()
            if not _may_name_a_model(data):
                continue
            documents = list(yaml.load_all(data.decode("utf-8"), Loader=_LIBYAML_LOADER))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # scan_tree reports unreadable files
        for obj in documents:
            for found in model_fields(obj) if isinstance(obj, dict) else ():
                if not found.honours_pins:
                    continue  # a pin would not be honoured: synth warns about it instead
                used.setdefault(locked.get((env, found.value), found.value), set()).add(env)
    return used


def pins_from_file(path: Path) -> dict[str, str]:
    """``--models FILE``: a JSON object model URI -> immutable form (or, for hf://, the bare 40-hex commit)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise MlkubeError.single(f"cannot read {path}: {error}", where=str(path)) from None
    except json.JSONDecodeError as error:
        raise MlkubeError.single(f"not valid JSON: {error.msg}", where=f"{path}:{error.lineno}:{error.colno}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise MlkubeError.single("must be a JSON object: model URI -> pinned URI", where=str(path),
                                 hint='{"hf://org/name": "hf://org/name@<40-hex commit>"}')
    pins, problems = {}, []
    for uri, pinned in data.items():
        ref = ModelReference(uri)
        if ref.hf_repo and ModelReference(f"hf://{ref.hf_repo}@{pinned}").immutable:
            pinned = f"hf://{ref.hf_repo}@{pinned}"
        target = ModelReference(pinned)
        if not target.immutable:
            problems.append(Problem(str(path), uri, f"{pinned[:200]!r} is not immutable", ref.pin_hint()))
        elif target.location != ref.location:
            problems.append(Problem(str(path), uri, f"{pinned!r} is another location than {uri!r}"))
        else:
            pins[download_form(uri)] = pinned
    if problems:
        raise MlkubeError(problems, title="the model pins given cannot be used; nothing was changed")
    return pins


class HuggingFaceResolver:
    """The commit sha of ``hf://org/name[:revision]``: ``GET {endpoint}/api/models/{repo}/revision/{revision}`` -> ``sha``.

    The URL and HF_ENDPOINT are huggingface_hub's (hf_api.py model_info; constants.py ENDPOINT, default
    https://huggingface.co); the token is HF_TOKEN, sent as a Bearer token like huggingface_hub does.
    """

    def __init__(self, endpoint: str | None = None, token: str | None = None, timeout: float = 15.0) -> None:
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
        self.token = token if token is not None else os.environ.get("HF_TOKEN")
        self.timeout = timeout

    def url(self, ref: ModelReference) -> str:
        revision = urllib.parse.quote(ref.hf_revision or "main", safe="")
        return f"{self.endpoint}/api/models/{ref.hf_repo}/revision/{revision}"

    def resolve(self, uri: str) -> tuple[str, str]:
        """(pinned URI, URL asked); raises MlkubeError naming the model."""
        ref = ModelReference(uri)
        if not ref.hf_repo:
            raise MlkubeError.single(f"{uri}: only hf:// models are resolved", hint=ref.pin_hint())
        import urllib.error  # urllib.request loads http.client, ssl and email: only when a model is resolved (issue 22)
        import urllib.request

        url = self.url(ref)
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read(1 << 20))
        except urllib.error.HTTPError as error:
            hint = "set HF_TOKEN for gated or private models" if error.code in (401, 403) else "check the repository and revision"
            raise MlkubeError([Problem(uri, "", f"{url} answered HTTP {error.code}", hint)]) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise MlkubeError([Problem(uri, "", f"{url}: {getattr(error, 'reason', error)}", "check HF_ENDPOINT and the network")]) from None
        sha = body.get("sha") if isinstance(body, dict) else None
        pinned = f"hf://{ref.hf_repo}@{sha}"
        if not isinstance(sha, str) or not ModelReference(pinned).immutable:
            raise MlkubeError([Problem(uri, "", f"{url} gave no 40-hex commit sha (got {sha!r})")])
        return pinned, url


def resolve_oci(uri: str, registry: RegistryClient) -> tuple[str, str]:
    """(``oci://<repository>@sha256:...``, what was asked): the registry's HEAD on the tag's manifest (pinning/registry.py)."""
    from .registry import RegistryError  # HTTP and TLS modules: only when a model is resolved (issue 22)

    reference = uri[len("oci://"):]
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        repository, tag = reference, "latest"
    try:
        digest = registry.digest(repository, tag)
    except RegistryError as error:
        raise MlkubeError([Problem(uri, "", error.message, error.hint)]) from None
    return f"oci://{repository}@{digest}", f"registry HEAD {repository}:{tag}"


def plan_model_pins(dist: Path, lock: Lock, environments: set[str], revision: str, *, given: dict[str, str] | None = None,
                    given_from: str = "", resolver: HuggingFaceResolver | None = None,
                    registry: RegistryClient | None = None, s3: S3Resolver | None = None,
                    gcs: GcsResolver | None = None) -> tuple[Lock, bool]:
    """The lock with model pins for ``environments``; all or nothing: any model that cannot be pinned raises, nothing changed."""
    used = tree_models(dist, environments, lock)
    new = lock.copy()
    pins: dict[str, tuple[str, dict[str, str]]] = {}
    problems: list[Problem] = []
    if given is not None:
        unknown = sorted(set(given) - set(used))
        problems += [Problem(given_from, uri, f"names a model that no manifest of {', '.join(sorted(environments))} in {dist} uses",
                             f"models in the tree: {', '.join(sorted(used)[:5]) or 'none'}") for uri in unknown]
        pins = {uri: (pinned, {"via": "file", "from": given_from}) for uri, pinned in given.items() if uri in used}
    if resolver is not None or registry is not None or s3 is not None or gcs is not None:
        for uri in sorted(used):
            ref = ModelReference(uri)
            if ref.immutable or not ref.pinnable or uri in pins:
                continue
            try:
                if ref.scheme == "oci" and registry is not None:
                    pinned, url = resolve_oci(uri, registry)
                elif ref.hf_repo and resolver is not None:
                    pinned, url = resolver.resolve(uri)
                elif ref.scheme == "s3" and s3 is not None:
                    pinned, url = s3.resolve(uri)
                elif ref.scheme == "gs" and gcs is not None:
                    pinned, url = gcs.resolve(uri)
                else:
                    continue
            except MlkubeError as error:
                problems += error.problems
                continue
            pins[uri] = (pinned, {"via": "resolve", "from": url})
    if problems:
        raise MlkubeError(problems, title="not every model could be pinned; nothing was changed")
    changed = False
    for uri, (pinned, source) in sorted(pins.items()):
        for env in sorted(used[uri]):
            models = new.models.setdefault(env, {})
            if (models.get(uri) or {}).get("pinned") == pinned:
                continue  # already locked: keep its recorded source, so that pinning twice changes nothing
            models[uri] = {"pinned": pinned, "source": {**source, "revision": revision}}
            changed = True
    return new, changed


def _model_scalars(node: Any, found: list[Any], fields: list[str] | None = None, path: str = "") -> None:
    """Positions of the model URI scalars (see model_fields) in a composed YAML node (and their field paths in ``fields``)."""
    if isinstance(node, yaml.MappingNode):
        values = {str(key.value): value for key, value in node.value}
        uri = values.get("storageUri")
        if isinstance(uri, yaml.ScalarNode) and not str(uri.value).startswith("pvc://"):
            found.append(uri)
            if fields is not None:
                fields.append(f"{path}.storageUri".lstrip("."))
        name, args = values.get("name"), values.get("args")
        if (isinstance(name, yaml.ScalarNode) and name.value == DOWNLOADER and isinstance(args, yaml.SequenceNode) and args.value
                and isinstance(args.value[0], yaml.ScalarNode)):
            found.append(args.value[0])
            if fields is not None:
                fields.append(f"{path}.args[0]".lstrip("."))
        for key, value in values.items():
            _model_scalars(value, found, fields, f"{path}.{key}" if path else key)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _model_scalars(item, found, fields, f"{path}[{index}]")


def model_values(text: str) -> list[tuple[str, int, str]]:
    """(value, line, field path) of every model URI in a manifest file's text (see model_fields)."""
    from .scan import _Loader

    found: list[Any] = []
    paths: list[str] = []
    for document in yaml.compose_all(text, Loader=_Loader):
        _model_scalars(document, found, paths)
    return [(str(node.value), node.start_mark.line + 1, path) for node, path in zip(found, paths, strict=True)]


def locked_model_problems(value: str, field: str, env: str, lock: Lock) -> list[str]:
    """What ``mlkube check --pinned`` finds wrong with one model value of ``env``'s manifests, as messages."""
    ref = ModelReference(value)
    if field.endswith("storageUri") and ref.scheme in KSERVE_UNVERSIONED:
        return [f"KServe would ignore the versions of {value[:120]!r}"] if ref.versioned else []
    if ref.versioned and not ref.immutable:
        return [f"model {value[:160]!r}: its versionManifest digest does not match the object versions listed (edited by hand?)"]
    locked = sorted({download_form(pinned) for uri, pinned in _pins(lock, env).items() if ModelReference(pinned).location == ref.location})
    if ref.immutable:
        if locked and download_form(value) not in locked:
            return [f"model {value[:160]!r} is not the revision locked for {ref.location} in {env} ({', '.join(s[:160] for s in locked)})"]
        return []
    if ref.pinnable:
        return [f"model {value!r} is not pinned" + (f" (the lock says {locked[0][:160]})" if locked else "")]
    return []


def model_replacements(files: list[Any], before: Lock, after: Lock) -> dict[Path, dict[Any, str]]:
    """Per file of ``files`` (pinning.tree.TreeFile), the model scalars whose pin ``after`` changes, and their new value.

    pin writes these with the image values, byte-preserving (pinning/rewrite.py), so that the tree matches the lock at once.
    """
    from .scan import ImageScalar, _Loader

    changes: dict[Path, dict[Any, str]] = {}
    for tree_file in files:
        env = tree_file.environment
        new = _pins(after, env)
        if not new:
            continue
        locked = {download_form(pinned): uri for uri, pinned in _pins(before, env).items()}
        nodes: list[Any] = []
        for document in yaml.compose_all(tree_file.text, Loader=_Loader):
            _model_scalars(document, nodes)
        for node in nodes:
            value = str(node.value)
            pinned = new.get(locked.get(value, value))
            if pinned and download_form(pinned) != value:
                scalar = ImageScalar(value, node.start_mark.index, node.end_mark.index, node.style, node.start_mark.line + 1,
                                     "model", "", "", "")
                changes.setdefault(tree_file.path, {})[scalar] = download_form(pinned)
    return changes
