"""The lock file ``dist/images.lock.json``: per environment, the digest of every pinned image.

The lock, not a text patch, is the source of truth: synth reads it and pins the images it
renders, so re-running synth after ``mlkube pin`` keeps the digests. Format (version 1)::

    {"version": 1, "environments": {"dev": {"images": {"fraud": {
        "repository": "registry.example.com/ml/fraud", "tag": "3f2a...", "digest": "sha256:...",
        "source": {"contentTag": "3f2a...", "revision": "<git sha>"}}}}}}

The key of an entry is the built image's name, or the repository for a registry image
(``repository:tag`` when one environment uses two tags of the same repository).

A gated environment (see mlkube.core.promotion_chain) also has ``promoteFrom`` (written by synth: where its
images may come from) and, once promoted, ``promoted``: the source, the revision whose lock was
copied and a fingerprint of the copied entries, so that `mlkube check --pinned` sees any later
change that did not come through `mlkube promote`. ``models`` (model pins: URI -> immutable form and
source, see mlkube.pinning.models) are applied by synth and promoted with the images.

``"bases"`` (optional) locks the base images that generated Dockerfiles start FROM, for every
environment at once (a Dockerfile serves them all): ``{"python:3.11-slim-bookworm": "sha256:..."}``.
``mlkube images pin-bases`` writes it; synth then pins each base with ``ARG BASE_DIGEST``.

``"charts"`` (optional, written only when present) locks the Helm chart that ``mlkube chart --push`` pushed
for each environment and app: ``{"dev": {"fraud-scoring": {"repository": "ghcr.io/acme/charts/fraud-scoring",
"version": "0.1.0-dev.c...", "digest": "sha256:..."}}}``. With ``GitOps(source="chart")`` Argo CD deploys it by digest.
A gated environment's entry also has ``"promotion"``: the fingerprint of the promotion whose images the chart renders
(mlkube.chart.pins); ``mlkube promote`` drops the target's entries of an earlier promotion.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..core.image import DIGEST
from ..core.model import ModelReference
from ..errors import MlkubeError, Problem

__all__ = ["Lock", "LockEntry", "ChartLockEntry", "Promotion", "load_lock", "fingerprint", "LOCK_FILE", "LOCK_VERSION",
           "model_pin_problems", "ALLOW_UNPINNED_ENV"]

LOCK_FILE = "images.lock.json"
LOCK_VERSION = 1


@dataclass(frozen=True)
class LockEntry:
    repository: str
    tag: str
    digest: str
    content_tag: str = ""
    revision: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"repository": self.repository, "tag": self.tag, "digest": self.digest,
                "source": {"contentTag": self.content_tag, "revision": self.revision}}


@dataclass(frozen=True)
class ChartLockEntry:
    """A pushed chart: its OCI repository (without oci://), version and manifest digest.

    ``promotion``: in a gated environment, the fingerprint of the promotion whose images the chart renders
    (a chart renders its environment's images, which change there only through ``mlkube promote``)."""

    repository: str
    version: str
    digest: str
    promotion: str = ""

    def to_json(self) -> dict[str, str]:
        body = {"repository": self.repository, "version": self.version, "digest": self.digest}
        return {**body, "promotion": self.promotion} if self.promotion else body


@dataclass(frozen=True)
class Promotion:
    """The last `mlkube promote` into an environment."""

    source: str
    revision: str
    fingerprint: str

    def to_json(self) -> dict[str, str]:
        return {"fingerprint": self.fingerprint, "from": self.source, "revision": self.revision}


def fingerprint(images: dict[str, LockEntry], models: dict[str, Any] | None = None) -> str:
    """sha256 of what a promotion copies (name, repository, tag and digest of each image; the model pins)."""
    body = {"images": {name: [e.repository, e.tag, e.digest] for name, e in sorted(images.items())}, "models": models or {}}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class Lock:
    environments: dict[str, dict[str, LockEntry]] = field(default_factory=dict)
    #: gated environment -> the environment it is promoted from (written by synth)
    sources: dict[str, str] = field(default_factory=dict)
    promotions: dict[str, Promotion] = field(default_factory=dict)
    #: model pins per environment, kept verbatim
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Base image ``repository:tag`` -> digest, for generated Dockerfiles.
    bases: dict[str, str] = field(default_factory=dict)
    #: Environment -> app -> the chart pushed for it (``mlkube chart --push``).
    charts: dict[str, dict[str, ChartLockEntry]] = field(default_factory=dict)

    def copy(self) -> Lock:
        """A copy of every section (so that a command changing one section never drops another)."""
        return Lock(**{item.name: copy.deepcopy(getattr(self, item.name)) for item in fields(self)})

    def digest_of(self, environment: str, repository: str, tag: str) -> str | None:
        """The locked digest of ``repository:tag`` in ``environment``, or None."""
        for entry in self.environments.get(environment, {}).values():
            if entry.repository == repository and entry.tag == tag:
                return entry.digest
        return None

    def entries_of(self, environment: str, repository: str) -> list[tuple[str, LockEntry]]:
        return [(name, e) for name, e in self.environments.get(environment, {}).items() if e.repository == repository]

    def _environment_json(self, env: str) -> dict[str, Any]:
        body: dict[str, Any] = {"images": {name: entry.to_json() for name, entry in sorted(self.environments.get(env, {}).items())}}
        if self.models.get(env):
            body["models"] = self.models[env]
        if env in self.sources:
            body["promoteFrom"] = self.sources[env]
        if env in self.promotions:
            body["promoted"] = self.promotions[env].to_json()
        return body

    def to_bytes(self) -> bytes:
        names = sorted(set(self.environments) | set(self.sources) | set(self.promotions) | set(self.models))
        body: dict[str, Any] = {"version": LOCK_VERSION, "environments": {env: self._environment_json(env) for env in names}}
        if self.bases:
            body["bases"] = dict(sorted(self.bases.items()))
        if self.charts:
            body["charts"] = {env: {app: entry.to_json() for app, entry in sorted(apps.items())} for env, apps in sorted(self.charts.items())}
        return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()


def _entry(data: Any, where: str, path: str, problems: list[Problem]) -> LockEntry | None:
    if not isinstance(data, dict):
        problems.append(Problem(where, path, "must be an object with repository, tag, digest and source"))
        return None
    values = {key: data.get(key) for key in ("repository", "tag", "digest")}
    missing = [key for key, value in values.items() if not isinstance(value, str) or not value]
    if missing:
        problems.append(Problem(where, path, f"missing or empty: {', '.join(missing)}"))
        return None
    repository, tag, digest = (str(values[key]) for key in ("repository", "tag", "digest"))
    if not DIGEST.match(digest):
        problems.append(Problem(where, f"{path}.digest", f"{digest!r} is not a sha256 digest"))
        return None
    source = data.get("source")
    source = source if isinstance(source, dict) else {}
    return LockEntry(repository, tag, digest, str(source.get("contentTag") or ""), str(source.get("revision") or ""))


def parse_lock(text: str, where: str) -> Lock:
    """The lock in ``text``; raises MlkubeError (exit 2) naming each problem."""
    hint = "restore it from version control, or delete it and run `mlkube pin` again"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise MlkubeError([Problem(f"{where}:{error.lineno}:{error.colno}", "", f"not valid JSON: {error.msg}", hint)],
                          title="the image lock file cannot be read") from None
    except RecursionError:
        # Python's json decoder recurses once per nesting level; a lock is three levels deep.
        raise MlkubeError([Problem(where, "", "nested too deeply to be an image lock", hint)],
                          title="the image lock file cannot be read") from None
    problems: list[Problem] = []
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION or not isinstance(data.get("environments"), dict):
        raise MlkubeError([Problem(where, "version", f"expected an object with \"version\": {LOCK_VERSION} and \"environments\"", hint)],
                          title="the image lock file cannot be read")
    lock = Lock()
    for env, body in data["environments"].items():
        images = body.get("images") if isinstance(body, dict) else None
        if not isinstance(images, dict):
            problems.append(Problem(where, f"environments.{env}", "must be an object with \"images\""))
            continue
        for name, raw in images.items():
            entry = _entry(raw, where, f"environments.{env}.images.{name}", problems)
            if entry is not None:
                lock.environments.setdefault(env, {})[name] = entry
        _chain_fields(lock, env, body, where, problems)
    bases = data.get("bases", {})
    if not isinstance(bases, dict):
        problems.append(Problem(where, "bases", "must be an object: base image reference -> digest"))
        bases = {}
    for reference, digest in bases.items():
        if not isinstance(digest, str) or not DIGEST.match(digest):
            problems.append(Problem(where, f"bases.{reference}", f"{digest!r} is not a sha256 digest"))
        else:
            lock.bases[reference] = digest
    _parse_charts(data.get("charts", {}), where, lock, problems)
    if problems:
        raise MlkubeError(problems, title="the image lock file is invalid")
    return lock


def _parse_charts(charts: Any, where: str, lock: Lock, problems: list[Problem]) -> None:
    if not isinstance(charts, dict):
        problems.append(Problem(where, "charts", "must be an object: environment -> app -> {repository, version, digest}"))
        return
    for env, apps in charts.items():
        for app, raw in (apps.items() if isinstance(apps, dict) else [("", None)]):
            path = f"charts.{env}.{app}".rstrip(".")
            values: dict[str, str] = {key: value for key in ("repository", "version", "digest")
                                      if isinstance(raw, dict) and isinstance(value := raw.get(key), str) and value}
            missing = [key for key in ("repository", "version", "digest") if key not in values]
            if missing:
                problems.append(Problem(where, path, f"missing or empty: {', '.join(missing)}", "entries are written by `mlkube chart --push`"))
            elif not DIGEST.match(values["digest"]):
                problems.append(Problem(where, f"{path}.digest", f"{values['digest']!r} is not a sha256 digest"))
            elif not isinstance(promotion := (raw or {}).get("promotion", ""), str):
                problems.append(Problem(where, f"{path}.promotion", "must be the fingerprint of a promotion (a string)"))
            else:
                lock.charts.setdefault(env, {})[app] = ChartLockEntry(values["repository"], values["version"], values["digest"], promotion)


def model_pin_problems(env: str, models: Any, where: str) -> list[Problem]:
    """What is wrong with one environment's ``models`` section of the lock (pinning/models.py applies and checks the pins)."""
    hint = "entries are written by mlkube pin --resolve / --models FILE; restore the lock from version control"
    if not isinstance(models, dict):
        return [Problem(where, f"environments.{env}.models", "must be an object: model URI -> {pinned, source}", hint)]
    problems = []
    for uri, entry in models.items():
        pinned = entry.get("pinned") if isinstance(entry, dict) else None
        if not isinstance(pinned, str) or not ModelReference(pinned).immutable:
            problems.append(Problem(where, f"environments.{env}.models.{uri}.pinned",
                                    f"{str(pinned)[:200]!r} is not an immutable model reference (hf://org/name@<40-hex>, oci://...@sha256:<digest>, "
                                    "s3:// or gs://...?versionManifest=sha256:<digest of the object versions listed>)", hint))
        elif ModelReference(pinned).location != ModelReference(uri).location:
            problems.append(Problem(where, f"environments.{env}.models.{uri}.pinned", f"{pinned!r} is another location than {uri!r}", hint))
    return problems


def _chain_fields(lock: Lock, env: str, body: dict[str, Any], where: str, problems: list[Problem]) -> None:
    if "models" in body:
        found = model_pin_problems(env, body["models"], where)
        problems += found
        if not found and body["models"]:
            lock.models[env] = body["models"]
    if "promoteFrom" in body:
        if isinstance(body["promoteFrom"], str) and body["promoteFrom"]:
            lock.sources[env] = body["promoteFrom"]
        else:
            problems.append(Problem(where, f"environments.{env}.promoteFrom", "must be the name of an environment"))
    promoted = body.get("promoted")
    if promoted is not None:
        values = promoted if isinstance(promoted, dict) else {}
        if not all(isinstance(values.get(key), str) for key in ("from", "revision", "fingerprint")):
            problems.append(Problem(where, f"environments.{env}.promoted", "must have from, revision and fingerprint (strings)",
                                    "restore it from version control, or run mlkube promote again"))
        else:
            lock.promotions[env] = Promotion(values["from"], values["revision"], values["fingerprint"])


#: Set to 1 to synthesize environments with require_pinned_images anyway (the CI job that builds).
ALLOW_UNPINNED_ENV = "MLKUBE_ALLOW_UNPINNED"

#: Folder of the lock when synth writes elsewhere. Default: ./dist when ``mlkube synth --out`` redirected
#: the output (the committed lock stays the source of truth), else none.
LOCK_DIR_ENV = "MLKUBE_LOCK_DIR"


def lock_path(out_dir: Path) -> Path:
    """The lock beside the output, else (when synth writes elsewhere) the config repo's committed one."""
    fallback = os.environ.get(LOCK_DIR_ENV) or ("dist" if os.environ.get("MLKUBE_OUT") else "")
    for folder in (Path(out_dir), *([Path(fallback)] if fallback else [])):
        if (folder / LOCK_FILE).exists():
            return folder / LOCK_FILE
    return Path(out_dir) / LOCK_FILE


def load_lock(out_dir: Path) -> Lock:
    """The lock of an output folder (see lock_path); an empty lock when there is none yet."""
    path = lock_path(out_dir)
    if not path.exists():
        return Lock()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise MlkubeError.single(f"cannot read {path}: {error}", where=str(path)) from None
    return parse_lock(text, str(path))
