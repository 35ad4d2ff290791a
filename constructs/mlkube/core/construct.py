"""The base of every mlkube construct: a node in the cdk8s tree whose objects are plain dicts."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, TypeVar, cast

from constructs import Construct

from ..errors import MlkubeError, Problem
from .escape_hatch import EmittedObject, api_object_of
from .lazy_node import LazyNode
from .overrides import apply_override, override_key
from .platform import MlApp
from .spec import Spec, parse_spec

__all__ = ["MlConstruct", "MountsVolumes", "SPEC_PATCHES"]

S = TypeVar("S", bound=Spec)

#: Spec fields replaced per construct path (after the environment's override): ``mlkube chart`` rebuilds an
#: app with one parameter changed to find where that parameter lands in the objects (mlkube/chart/probe.py).
SPEC_PATCHES: ContextVar[Mapping[str, Mapping[str, Any]]] = ContextVar("SPEC_PATCHES", default=MappingProxyType({}))


def _path_of(scope: Construct) -> str:
    return getattr(scope, "construct_path", None) or scope.node.path


def _app_of(scope: Construct) -> MlApp:
    if isinstance(scope, MlApp):
        return scope
    if isinstance(scope, MlConstruct):
        return scope.ml_app
    for ancestor in reversed(scope.node.scopes):
        if isinstance(ancestor, MlApp):
            return ancestor
    raise MlkubeError.single("mlkube constructs must be created inside an app", where=scope.node.path,
                             hint="create it in the function given to platform.app(...)")


class MlConstruct(LazyNode, Construct):
    """A construct that validates a pydantic spec and emits plain-dict objects into its app.

    It is created in Node only when Node is asked something (core/lazy_node.py): its objects are plain dicts.
    """

    def __init__(self, scope: Construct, id: str) -> None:
        if not self._create_later(scope, id, [scope, id]):
            super().__init__(scope, id)
        self.ml_app = _app_of(scope)
        self.construct_path = f"{_path_of(scope)}/{id}"
        self.construct_id = id
        #: Every object this construct emitted, each with cdk8s's escape hatch (``api_object_of``, escape_hatch.py).
        self.emitted_objects: list[EmittedObject] = []

    @property
    def namespace(self) -> str:
        return self.ml_app.namespace_name

    def _parse(self, model: type[S], spec: S | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> S | None:
        """Validate the spec, with the environment's override for this construct merged in.

        On errors, report them to the app and return None (synth fails later).
        """
        key = override_key(self.construct_path)
        override = self.ml_app.environment.overrides.get(key)
        if override is not None:
            self.ml_app.platform.used_overrides.add(f"{self.ml_app.environment.name}/{key}")
            merged = {**(spec.model_dump(exclude_unset=True) if isinstance(spec, Spec) else dict(spec or {})), **fields}
            where = f"environments[{self.ml_app.environment.name}].overrides[{key}]"
            fields, problems = apply_override(model, merged, override, self.construct_path, where)
            spec = None
            if problems:
                self.ml_app.report(problems)
                return None
        patch = SPEC_PATCHES.get().get(self.construct_path)
        if patch is not None:
            given = {name: getattr(spec, name) for name in spec.model_fields_set} if isinstance(spec, Spec) else dict(spec or {})
            fields = {**given, **fields, **patch}
            spec = None
        parsed, problems = parse_spec(model, spec, fields, self.construct_path, self.ml_app.platform.parsed_specs)
        self.ml_app.report(problems)
        return parsed

    def _emit(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Hand a finished object to the app, with the spec's policy waivers written into it."""
        waivers = self._waivers()
        if waivers:
            from .waivers import apply_waivers

            self.ml_app.report(apply_waivers(obj, waivers, self.construct_path))
        self.emitted_objects.append(EmittedObject(obj, self.construct_path, self.ml_app))
        return self.ml_app.add_object(obj, self.construct_path)

    def api_object(self, kind: str | None = None, name: str | None = None) -> EmittedObject:
        """The emitted object of ``kind`` (and ``name``), to JSON-patch: ``server.api_object("Deployment").add_json_patch(...)``."""
        return cast(EmittedObject, api_object_of(self, kind, name))  # what an mlkube construct emitted is always one

    def _waivers(self) -> list[Any]:
        """The spec's explicit waivers, plus one for secrets given as env vars (each with its stated reason)."""
        spec = getattr(self, "spec", None)
        waivers = list(getattr(spec, "waivers", None) or [])
        secret_env = getattr(spec, "secret_env", None) or []
        if secret_env:
            from .waivers import Waiver

            reasons = "; ".join(f"{item.env}: {item.reason}" for item in secret_env)
            waivers.append(Waiver(rule="MLK-SEC-006", reason=f"secrets as env vars ({reasons})"))
        return waivers

    def _report(self, field: str, message: str, hint: str = "") -> None:
        self.ml_app.report([Problem(self.construct_path, field, message, hint)])


class MountsVolumes:
    """Mixin of workloads that can mount a CheckpointVolume: ``workload.mount(volume, read_only=True)``."""

    def mount(self, volume: Any, *, read_only: bool = False, path: str | None = None, env: str = "CHECKPOINT_DIR") -> Any:
        """Add the volume, its mount (read-only if asked) and env ``env`` = the mount path to every pod of the workload."""
        volume.mount_into(self, read_only=read_only, path=path, env=env)
        return self

    def _pod_specs(self) -> list[dict[str, Any]]:
        """The rendered pod specs to mount into (empty when the spec was invalid)."""
        raise NotImplementedError

    def _mounted(self, volume: Any, *, read_only: bool, path: str) -> None:
        """Hook after a mount (training jobs add their resume env)."""
