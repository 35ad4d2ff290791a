"""cdk8s's escape hatch for mlkube constructs: reach one emitted object and JSON-patch it.

cdk8s reaches an object with ``ApiObject.of(construct).add_json_patch(JsonPatch.add(...))``. mlkube
constructs keep their objects as plain dicts (one Node call per chart, not several per object), so
``ApiObject.of`` finds no ``ApiObject`` under them. ``api_object_of(construct, kind, name)`` is the
equivalent: a handle on one emitted object whose ``add_json_patch`` takes the same ``cdk8s.JsonPatch``
operations. The patches are applied by cdk8s's own ``JsonPatch.apply`` (RFC 6902, fast-json-patch) when
synth collects the objects, before the platform's transforms, schema validation and policy: one Node
call per patched object, none for the others. A cdk8s ``ApiObject`` is returned as it is, and for another
construct (cdk8s-plus) what ``cdk8s.ApiObject.of`` finds, so the same line works for plain cdk8s code.
See https://cdk8s.io/docs/latest/basics/escape-hatches/
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cdk8s

from constructs import Construct

from ..errors import MlkubeError, Problem
from .lazy_node import reading_without_materializing

if TYPE_CHECKING:
    from .platform import MlApp

__all__ = ["EmittedObject", "api_object_of", "apply_json_patches"]


class EmittedObject:
    """One object an mlkube construct emitted, with pending JSON patches (like a cdk8s ``ApiObject``)."""

    # One per object for the whole run (issue 22): no __dict__, and no list until a patch is added.
    __slots__ = ("_app", "_obj", "_patches", "construct_path")

    def __init__(self, obj: dict[str, Any], construct_path: str, app: MlApp) -> None:
        self._obj = obj
        self._app = app
        self.construct_path = construct_path
        self._patches: Sequence[cdk8s.JsonPatch] = ()

    @property
    def api_version(self) -> str:
        return str(self._obj.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self._obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self._obj.get("metadata") or {}).get("name", ""))

    @property
    def pending(self) -> bool:
        """Patches wait to be applied at synth."""
        return bool(self._patches)

    def add_json_patch(self, *ops: cdk8s.JsonPatch) -> None:
        """Patch the object at synth, after the construct built it (paths are JSON pointers: ``/spec/replicas``)."""
        for op in ops:
            if not isinstance(op, cdk8s.JsonPatch):
                raise TypeError(f"add_json_patch takes cdk8s.JsonPatch operations (JsonPatch.add(path, value)...), got {op!r}")
        if not self._patches:
            self._app.patched_objects.append(self)
        self._patches = [*self._patches, *ops]

    def to_json(self) -> dict[str, Any]:
        """A copy of the object with the pending patches applied (what synth will validate and write)."""
        if not self._patches:
            return copy.deepcopy(self._obj)
        return dict(cdk8s.JsonPatch.apply(self._obj, *self._patches))

    def apply_patches(self) -> Problem | None:
        """Apply the pending patches to the emitted dict itself (once: synth may run twice)."""
        if not self._patches:
            return None
        described = f"{self.kind}/{self.name}"
        try:
            with reading_without_materializing():  # a pure function of the dict and the patches: no construct is observed
                patched = cdk8s.JsonPatch.apply(self._obj, *self._patches)
        except RuntimeError as error:  # jsii raises RuntimeError with the JavaScript error's text
            return Problem(self.construct_path, "", f"{described}: a JSON patch failed: {first_line(error)}",
                           "patch paths are JSON pointers into the object as mlkube built it, e.g. "
                           "/spec/template/spec/containers/0/env/- (see it with api_object_of(...).to_json())")
        self._obj.clear()
        self._obj.update(patched)
        self._patches = ()
        return None


def first_line(error: BaseException) -> str:
    """The first line of a JavaScript error (the rest can dump a whole object, secrets included)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def api_object_of(construct: Construct, kind: str | None = None, name: str | None = None) -> Any:
    """The object of ``kind`` (and ``name``, when the construct emits several of that kind) that ``construct``
    emitted, as an :class:`EmittedObject`; a cdk8s ``ApiObject`` is returned as it is, and for any other construct
    (cdk8s-plus) what ``cdk8s.ApiObject.of`` returns.

    >>> api_object_of(server, "Deployment").add_json_patch(cdk8s.JsonPatch.add("/spec/revisionHistoryLimit", 3))
    """
    if isinstance(construct, cdk8s.ApiObject):
        return construct
    emitted: list[EmittedObject] | None = getattr(construct, "emitted_objects", None)
    path = getattr(construct, "construct_path", None) or construct.node.path
    if emitted is None:  # a cdk8s-plus or other construct: cdk8s's own rule (its child named 'Resource')
        try:
            return cdk8s.ApiObject.of(construct)
        except RuntimeError as error:
            raise MlkubeError.single(f"{type(construct).__name__} has no object to patch: {first_line(error)}", where=path,
                                     hint="pass an mlkube construct, a cdk8s ApiObject or a construct with one (cdk8s-plus)") from None
    found = [item for item in emitted if (kind is None or item.kind == kind) and (name is None or item.name == name)]
    if len(found) == 1:
        return found[0]
    objects = ", ".join(f"{item.kind}/{item.name}" for item in emitted) or "nothing"
    wanted = " ".join(part for part in (f"kind={kind!r}" if kind else "", f"name={name!r}" if name else "") if part)
    found_text = f"no object with {wanted}" if not found else f"{len(found)} objects{' with ' + wanted if wanted else ''}"
    raise MlkubeError.single(f"{type(construct).__name__} emitted {found_text} (it emitted: {objects})", where=path,
                             hint="say which object: api_object_of(construct, kind='Deployment'), and name= when a kind appears twice")


def apply_json_patches(app: MlApp) -> list[Problem]:
    """Apply every pending escape-hatch patch of an app's constructs to their objects."""
    problems = [problem for handle in app.patched_objects if (problem := handle.apply_patches()) is not None]
    app.patched_objects[:] = [handle for handle in app.patched_objects if handle.pending]  # failed ones stay reported
    return problems
