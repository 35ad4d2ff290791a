"""Constructs created in Node only when Node is asked something (issue 22: one jsii create per construct
cost about half of building a platform).

An mlkube construct keeps its objects as plain Python dicts: Node needs it only when someone asks Node
about the tree. So ``MlConstruct``, ``MlApp``, a platform's environment scopes and the Platform itself
(the cdk8s App, first in the queue) do not call jsii's create in ``__init__``: they wait in a queue, in
creation order, and are created in Node
("materialized") before the next request that could observe the tree (any get, set or method call on
an object, any create or static call that names one, any request to a library other than cdk8s and
constructs). Node's tree, its child order and every answer it gives (``node.children``, ``find_all``,
``Chart.of``, validations, dependencies, ``Testing.synth``) are then exactly those of creating each
construct at once. mlkube's own synth reads the tree without materializing
(``reading_without_materializing``): a waiting construct has, by construction, no Node-side children,
validations or dependencies (adding any is a request, which creates it first), so the read is the same.

What jsii does that this relies on (jsii 1.142, pinned in constraints.txt):

- jsii/_kernel/__init__.py: every request goes through ``Kernel.provider`` (``self.provider.create``,
  ``.get``, ``.invoke``...), and the module-level ``jsii.create``/``jsii.get``... are bound methods of
  the one ``Kernel`` (jsii/__init__.py), so wrapping the kernel's provider sees every request.
  ``Kernel.create`` builds the request from ``klass.__jsii_type__`` and the object's overrides, sets
  ``obj.__jsii_ref__`` and registers the object in the reference map.
- A request names an object through ``obj.__jsii_ref__`` (Kernel.get/set/invoke build the request with
  it; providers/process.py's ``jdefault`` serializes arguments with ``hasattr(obj, "__jsii_ref__")``):
  a waiting construct's ``__jsii_ref__`` materializes the queue, so a request that names one finds it.
- jsii/_runtime.py ``JSIIMeta.__call__`` registers every new instance in the reference map right after
  ``__init__`` (reading ``__jsii_ref__``): ``LazyMeta`` skips that; ``Kernel.create`` registers it.

Duplicate ids: Node refuses a second child with the same id at create (constructs' ``Node.addChild``:
"There is already a Construct with name 'x' in Chart [app]"); Python refuses it itself, with the same
error at the same moment. It knows each child of an mlkube scope: waiting, or created through a create
it saw. Node code may add a child without such a create (a static factory,
``ConfigMap.from_config_map_name(scope, id, name)``): after any request that could have done so, the
next construct made in a scope first reads that scope's children from Node (without materializing).

``MLKUBE_EAGER_CONSTRUCTS=1`` (or ``eager_constructs()``) creates every construct at once, as before.
"""

from __future__ import annotations

import enum
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import jsii
from jsii import _reference_map
from jsii._kernel.providers.base import BaseProvider
from jsii._kernel.types import Callback

from constructs import Construct

__all__ = ["EAGER_ENV", "LazyMeta", "LazyNode", "TracksChildren", "eager_constructs", "materialize_pending",
           "pending_count", "reading_without_materializing", "track_children", "watch_node_requests"]

#: ``MLKUBE_EAGER_CONSTRUCTS=1``: create every construct in Node at once (the behaviour before lazy creation).
EAGER_ENV = "MLKUBE_EAGER_CONSTRUCTS"
_EAGER: ContextVar[bool] = ContextVar("_EAGER", default=os.environ.get(EAGER_ENV, "") == "1")
#: constructs' sanitizeId (lib/construct.js): the path separator and the addr separator become '--'.
_ID_SEPARATORS = re.compile("[/\n]")
#: Node methods after which Python no longer knows every child of a scope: ``Node.lock`` (no child may be
#: added) and ``Node.tryRemoveChild``. After either, every construct is created at once (Node decides).
_TREE_EDITS = frozenset({"lock", "tryRemoveChild"})
#: The errors of constructs' Node constructor and ``Node.addChild`` (lib/construct.js): the child was not added.
_REFUSED_CHILD = ("There is already a Construct with name", "Only root constructs may have an empty ID", "Cannot add children")
#: Assemblies whose creates and static calls observe no construct unless given one (``_self_contained``).
_SELF_CONTAINED_LIBRARIES = ("cdk8s.", "constructs.")


@dataclass
class _State:
    queue: deque[LazyNode]
    flushing: bool = False
    #: Depth of Node-to-Python callbacks at which mlkube's tree read runs; None: no read under way.
    reading_at: int | None = None
    callback_depth: int = 0
    #: Set when Node was asked to lock or remove a child: from then on every construct is created at once.
    exact_only: bool = False
    #: Requests so far that could have let Node code add a child Python did not see (one naming an object,
    #: outside mlkube's own creates and tree read): a scope created, or read, after the last one needs no read.
    reaching_requests: int = 0


_STATE = _State(deque())


def _sanitized(id: str) -> str:
    return _ID_SEPARATORS.sub("--", id)


class TracksChildren:
    """A scope that knows the id of each of its children (waiting, or created through a request Python saw)."""

    def _lazy_children(self) -> dict[str, LazyNode | None]:
        """Child id -> the child when it is an mlkube construct (None: a construct created directly in Node)."""
        children: dict[str, LazyNode | None] | None = self.__dict__.get("_lazy_child_ids")
        if children is None:
            children = self.__dict__["_lazy_child_ids"] = {}
        return children

    def _lazy_node_id(self) -> str:
        """This construct's id in Node (the root's is empty)."""
        return str(self.__dict__.get("_lazy_id", ""))

    def _lazy_in_node(self) -> bool:
        return True  # a root that is not a LazyNode is created at once

    def _lazy_children_known(self) -> None:
        """Every Node-side child of this scope is known to Python now."""
        self.__dict__["_lazy_known_at"] = _STATE.reaching_requests

    def _lazy_learn_node_children(self) -> None:
        """Read the children Node has, if a request since the last reading could have added one Python did not see."""
        if not self._lazy_in_node() or self.__dict__.get("_lazy_known_at", -1) == _STATE.reaching_requests:
            return
        known = self._lazy_children()
        with reading_without_materializing():  # what waits is not in Node: the answer is the same
            children: list[Any] = list(self.node.children)  # type: ignore[attr-defined]
            if len(children) != sum(1 for child in known.values() if child is None or child.created_in_node):
                for child in children:
                    if not isinstance(child, LazyNode):
                        known.setdefault(child.node.id, None)
        self._lazy_children_known()


class LazyMeta(jsii.JSIIMeta):
    """The jsii metaclass without the registration after ``__init__`` (jsii/_runtime.py ``JSIIMeta.__call__``):
    a waiting construct has no reference yet; ``Kernel.create`` registers it when it is created in Node."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return super(jsii.JSIIMeta, cls).__call__(*args, **kwargs)


class LazyNode(TracksChildren, metaclass=LazyMeta):
    """A construct created in Node only when Node is asked something (see the module's docstring).

    A subclass's ``__init__`` calls ``self._create_later(scope, id, args)`` with the arguments of jsii's create,
    and the jsii base class's ``__init__`` only when that returns False (to be created at once).
    """

    @property
    def __jsii_ref__(self) -> Any:
        ref = self.__dict__.get("_lazy_jsii_ref")
        if ref is None and "_lazy_args" in self.__dict__:
            materialize_pending(reading_too=True)  # Node is about to be asked about this construct
            ref = self.__dict__.get("_lazy_jsii_ref")
        if ref is None:
            failure = self.__dict__.get("_lazy_failure")
            raise AttributeError(f"{getattr(self, 'construct_path', None) or type(self).__name__} is not in Node"
                                 + (f": {failure}" if failure else ""))
        return ref

    @__jsii_ref__.setter
    def __jsii_ref__(self, ref: Any) -> None:  # Kernel.create sets it (jsii/_kernel/__init__.py)
        self.__dict__["_lazy_jsii_ref"] = ref
        self._lazy_children_known()  # just created: no child yet
        scope = self.__dict__.get("_lazy_scope")
        if isinstance(scope, TracksChildren):  # created at once or later: its scope lists it
            scope._lazy_children()[self._lazy_node_id()] = self

    @property
    def created_in_node(self) -> bool:
        """Created in Node already (False while it waits for Node to be asked something)."""
        return "_lazy_jsii_ref" in self.__dict__

    def _lazy_in_node(self) -> bool:
        return self.created_in_node

    def _create_root_later(self, args: Callable[[], list[Any]]) -> bool:
        """Queue jsii's create of this root construct (a Platform: the cdk8s App) first in the queue (True), or say
        it must be created now (False). While it waits, Node holds nothing of its tree: a synth that never asks
        Node anything makes no request at all (building does not wait for Node to start). ``args`` makes the
        arguments when it is created: the first jsii struct made in a process costs 35 ms (``cdk8s.AppProps()``:
        jsii's type check resolves the annotations of the cdk8s module once), which a synth without Node never pays."""
        if not watch_node_requests() or _EAGER.get() or _STATE.exact_only:
            return False
        self.__dict__["_lazy_id"] = ""
        self.__dict__["_lazy_scope"] = None
        self._enqueue(args)
        return True

    def _enqueue(self, args: list[Any] | Callable[[], list[Any]]) -> None:
        """Wait in the queue, after everything made before, with the arguments of jsii's create (or what makes them)."""
        self.__dict__["_lazy_args"] = args
        _STATE.queue.append(self)

    def _create_later(self, scope: Construct, id: str, args: list[Any] | Callable[[], list[Any]]) -> bool:
        """Queue jsii's create of this construct (True), or say it must be created now (False): when eager
        creation is asked for, or Python cannot know the scope's children (a scope that is not mlkube's)."""
        if not isinstance(id, str) or not watch_node_requests():
            return False  # the jsii base class's type check reports a wrong id
        self.__dict__["_lazy_id"] = name = _sanitized(id)
        self.__dict__["_lazy_scope"] = scope
        if _EAGER.get() or _STATE.exact_only or not isinstance(scope, TracksChildren):
            return False
        if not name:
            raise RuntimeError("Only root constructs may have an empty ID")  # constructs' Node constructor, word for word
        scope._lazy_learn_node_children()
        children = scope._lazy_children()
        if name in children:
            raise RuntimeError(_duplicate_message(scope, name))
        children[name] = self
        self._enqueue(args)
        return True


def _duplicate_message(scope: TracksChildren, name: str) -> str:
    """constructs' ``Node.addChild`` error, word for word: the scope's Node class name and its id."""
    type_name = str(getattr(scope, "__jsii_type__", "Construct")).rsplit(".", 1)[-1]
    scope_id = scope._lazy_node_id()
    return f"There is already a Construct with name '{name}' in {type_name}{f' [{scope_id}]' if scope_id else ''}"


def track_children(root: TracksChildren) -> None:
    """A root construct (a Platform) just created: every child created in its tree from now on is seen."""
    watch_node_requests()
    root._lazy_children_known()


def pending_count() -> int:
    """Constructs waiting to be created in Node."""
    return len(_STATE.queue)


def materialize_pending(*, reading_too: bool = False) -> None:
    """Create every waiting construct in Node, in creation order (a scope always before its children).

    Not while mlkube reads the tree (unless ``reading_too``: a request names a waiting construct). A
    construct Node refuses raises its error here, after the others were created."""
    if not _STATE.queue or _STATE.flushing or (_STATE.reading_at == _STATE.callback_depth and not reading_too):
        return
    _STATE.flushing = True
    failures: list[Exception] = []
    try:
        while _STATE.queue:
            node = _STATE.queue.popleft()
            args = node.__dict__["_lazy_args"]
            if callable(args):
                args = node.__dict__["_lazy_args"] = args()
            if isinstance(args[0], LazyNode) and not args[0].created_in_node:  # its scope failed: it cannot exist either
                node.__dict__["_lazy_failure"] = args[0].__dict__.get("_lazy_failure")
                continue
            try:
                jsii.create(type(node), node, args)
            except Exception as error:  # raised as creating it at once would have, after the others
                node.__dict__["_lazy_failure"] = str(error)
                failures.append(error)
    finally:
        _STATE.flushing = False
    if failures:
        raise failures[0]


@contextmanager
def reading_without_materializing() -> Iterator[None]:
    """mlkube's synth reading the tree: waiting constructs keep waiting (a Python callback Node makes
    meanwhile, a user's validation for example, still materializes them before its own requests)."""
    saved = _STATE.reading_at
    _STATE.reading_at = _STATE.callback_depth
    try:
        yield
    finally:
        _STATE.reading_at = saved


@contextmanager
def eager_constructs(eager: bool = True) -> Iterator[None]:
    """Create constructs in Node at once (``eager=True``) or when Node needs them, within the block."""
    token = _EAGER.set(eager)
    try:
        yield
    finally:
        _EAGER.reset(token)


def _reading() -> bool:
    return _STATE.reading_at == _STATE.callback_depth


def _before(*, names_objects: bool = True) -> None:
    """Before a request that may observe the tree: create what waits; if the request names an object (Node
    code then has a handle on the tree and may add children Python does not see), count it."""
    materialize_pending()
    if names_objects and not _reading() and not _STATE.flushing:
        _STATE.reaching_requests += 1


def _self_contained(fqn: str, args: Any) -> bool:
    """A create or static call of cdk8s or constructs that names no object cannot observe a construct: neither
    library keeps constructs anywhere but in the tree (no static registry), so without a handle Node code
    reaches none (``cdk8s.App()``, ``JsonPatch.add("/x", 1)``, ``Testing.app()``). Other libraries might."""
    return fqn.startswith(_SELF_CONTAINED_LIBRARIES) and not _names_an_object(args)


def _names_an_object(value: Any) -> bool:
    """Whether request arguments (as jsii's ``_make_reference_for_native`` left them) hold an object reference."""
    if isinstance(value, dict):
        return any(_names_an_object(item) for item in value.values())
    if isinstance(value, list):
        return any(_names_an_object(item) for item in value)
    return hasattr(type(value), "__jsii_type__") and not isinstance(value, enum.Enum)


class _MaterializingProvider(BaseProvider):
    """The kernel's provider, wrapped: waiting constructs are created before any request that could observe
    the tree, and the children a create adds to an mlkube scope are recorded (for duplicate ids)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:  # anything else the wrapped provider has (its Node process...)
        return getattr(self.inner, name)

    @staticmethod
    def _answered(response: Any) -> Any:
        if isinstance(response, Callback):  # Node calls Python back: requests made meanwhile are user code's
            _STATE.callback_depth += 1
        return response

    # Loading an assembly or asking for a bin script observes no construct (and a start-up thread may load
    # while the main thread builds).
    def load(self, request: Any) -> Any:
        return self.inner.load(request)

    def getScriptCommand(self, request: Any) -> Any:
        return self.inner.getScriptCommand(request)

    def create(self, request: Any) -> Any:
        if not _self_contained(request.fqn, request.args):
            _before()  # during a materialization: one of mlkube's, whose Node constructor adds nothing else
        try:
            response = self._answered(self.inner.create(request))
        except Exception as error:
            # Node adds the child in Construct's constructor, before the subclass's own code can fail: unless
            # that constructor refused it (a duplicate, an empty id, a locked scope), the id is taken.
            if not str(error).startswith(_REFUSED_CHILD):
                _record_child(request)
            raise
        _record_child(request)
        return response

    def get(self, request: Any) -> Any:
        _before()
        return self._answered(self.inner.get(request))

    def set(self, request: Any) -> Any:
        _before()
        return self._answered(self.inner.set(request))

    def sget(self, request: Any) -> Any:
        if not _self_contained(request.fqn, []):
            _before(names_objects=False)  # a static property: no object to add a child to
        return self.inner.sget(request)

    def sset(self, request: Any) -> Any:
        if not _self_contained(request.fqn, request.value):
            _before(names_objects=_names_an_object(request.value))
        return self.inner.sset(request)

    def invoke(self, request: Any) -> Any:
        _before()
        if request.method in _TREE_EDITS:
            _STATE.exact_only = True
        return self._answered(self.inner.invoke(request))

    def sinvoke(self, request: Any) -> Any:
        if not _self_contained(request.fqn, request.args):
            _before(names_objects=_names_an_object(request.args))
        return self._answered(self.inner.sinvoke(request))

    def delete(self, request: Any) -> Any:
        _before(names_objects=False)
        return self.inner.delete(request)

    def begin(self, request: Any) -> Any:
        _before()
        return self._answered(self.inner.begin(request))

    def sbegin(self, request: Any) -> Any:
        _before(names_objects=_names_an_object(request.args))
        return self._answered(self.inner.sbegin(request))

    def end(self, request: Any) -> Any:
        _before(names_objects=False)
        return self.inner.end(request)

    def callbacks(self, request: Any) -> Any:
        _before(names_objects=False)
        response = self.inner.callbacks(request)
        _STATE.callback_depth += len(getattr(response, "callbacks", None) or [])
        return response

    def complete(self, request: Any) -> Any:
        _STATE.callback_depth = max(0, _STATE.callback_depth - 1)
        _before(names_objects=False)
        return self.inner.complete(request)

    def sync_complete(self, request: Any, response_type: Any) -> Any:
        _STATE.callback_depth = max(0, _STATE.callback_depth - 1)
        _before(names_objects=False)  # the request Node goes on with was counted when it was sent
        return self._answered(self.inner.sync_complete(request, response_type))

    def stats(self, request: Any = None) -> Any:
        _before(names_objects=False)  # the object count is an answer about the tree
        return self.inner.stats(request)


def _record_child(request: Any) -> None:
    """A construct created directly in Node in an mlkube scope: remember its id (Node refuses a second)."""
    args = request.args
    if len(args) < 2 or not isinstance(args[0], TracksChildren) or not isinstance(args[1], str):
        return
    klass = _reference_map._types.get(request.fqn)
    if isinstance(klass, type) and issubclass(klass, Construct):
        args[0]._lazy_children().setdefault(_sanitized(args[1]), None)


def watch_node_requests() -> bool:
    """Wrap the kernel's provider, whatever it is now (once; again if something replaced it since).

    False, and constructs are created at once, when this jsii does not look like the one this relies on."""
    kernel = getattr(jsii, "kernel", None)
    provider = getattr(kernel, "provider", None)
    # jsii.create is the kernel's bound method (jsii/__init__.py), and the reference map knows each class by fqn.
    if provider is None or getattr(jsii.create, "__self__", None) is not kernel or not hasattr(_reference_map, "_types"):
        return False
    if not isinstance(provider, _MaterializingProvider):
        kernel.provider = _MaterializingProvider(provider)  # type: ignore[union-attr]
    return True
