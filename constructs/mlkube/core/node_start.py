"""Start jsii's Node process in a thread while Python imports the rest of mlkube (a shorter start-up).

cdk8s runs in Node: the first Python-to-Node request starts the Node process, waits for its hello,
then loads the ``constructs`` and ``cdk8s`` assemblies. That is about 0.25-0.3 s of waiting in every
synth, spent while Python does nothing else. Started here instead, Node boots on another core while
Python imports pydantic, mlkube's modules and the user's blueprint, and the first request finds it ready.

How jsii does it (jsii 1.x Python runtime, the version pinned in constraints.txt):
- ``jsii/_runtime.py``: ``kernel = Kernel()``, a singleton holding ``self.provider = ProcessProvider()``;
  every request goes through ``provider.<verb>(request)`` -> ``self._process.send(...)``.
- ``jsii/_kernel/providers/process.py``: ``ProcessProvider._process`` is a memoized property that
  builds ``_NodeProcess()`` and calls its ``start()`` (Popen of ``node jsii-runtime.js``, then the
  hello handshake); ``load`` sends a ``LoadRequest`` per assembly, which ``import constructs`` and
  ``import cdk8s`` issue through ``JSIIAssembly.load`` with the ``*.jsii.tgz`` in their ``_jsii`` package.

The provider below is a ProcessProvider whose process is started, and whose two assemblies are loaded,
by a thread; every request waits for that thread first, so requests never interleave. When the thread
failed (no Node, say), the first request raises its error: jsii's own, as if jsii had started Node then.
Anything unexpected about jsii (another provider already in use, a Node process already started,
renamed internals) leaves jsii as it is: this only changes when Node starts, never what it does.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["start_node_early", "finish_early_start", "EARLY_START_ENV"]

#: ``MLKUBE_NODE_EARLY=0`` turns the early start off (jsii then starts Node on its first request).
EARLY_START_ENV = "MLKUBE_NODE_EARLY"
#: The assemblies every mlkube synth loads, in jsii's order (cdk8s depends on constructs).
ASSEMBLIES = ("constructs", "cdk8s")

_lock = threading.Lock()
_installed = False
#: The thread starting Node, while this module's provider is jsii's.
_starting: threading.Thread | None = None
#: How long an exiting process waits for Node's start to end (it takes about 0.3 s; more on a loaded machine).
FINISH_TIMEOUT = 60.0


def start_node_early() -> None:
    """Start Node and load the cdk8s assemblies in a thread (once per process; a no-op if jsii already runs)."""
    global _installed, _starting
    with _lock:
        if _installed or os.environ.get(EARLY_START_ENV) == "0":
            return
        _installed = True
        try:
            from jsii._kernel import Kernel
            from jsii._kernel.providers.process import ProcessProvider
        except ImportError:  # jsii is cdk8s's dependency; without it, the import of cdk8s reports what is missing
            return
        kernel = Kernel()
        # Only a fresh jsii: its own provider class, and no assembly loaded yet (jsii records each loaded
        # assembly's module in _reference_map._assembly_to_module, jsii/_runtime.py JSIIAssembly.load).
        from jsii import _reference_map

        if type(kernel.provider) is not ProcessProvider or getattr(_reference_map, "_assembly_to_module", None):
            return
        provider = _early_provider_class(ProcessProvider)()
        kernel.provider = provider
        _starting = provider._thread
        # A script (the app `cdk8s synth` runs) that ends early gets the same wait from its exit hooks.
        atexit.register(finish_early_start)


def finish_early_start() -> None:
    """Wait for the thread that starts Node if it is still at it (before this process exits).

    A process that ends while the thread runs (a command that fails before it builds anything) would have
    its exit remove jsii's runtime folder while the thread writes into it (tempfile's cleanup at exit: "Directory
    not empty") or collect a Node process half started (jsii's ``_NodeProcess.__del__``: no ``_process``), each a
    traceback on stderr. Once the thread is done, jsii's own exit hook (``atexit.register(self.stop)`` in
    ``_NodeProcess.start``) stops Node as usual. The ``mlkube`` program calls this before it exits.
    """
    thread = _starting
    if thread is not None and thread.is_alive():
        thread.join(FINISH_TIMEOUT)


def _assembly_loads() -> list[tuple[str, str, str]]:
    """(name, version, tarball) of each assembly, found as JSIIAssembly.load finds them, without importing the modules."""
    loads: list[tuple[str, str, str]] = []
    for name in ASSEMBLIES:
        spec = importlib.util.find_spec(name)  # a top-level name: found without importing it (which would start Node)
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        tarballs = sorted(tarball for folder in folders for tarball in (Path(folder) / "_jsii").glob(f"{name}@*.jsii.tgz"))
        if len(tarballs) != 1:
            return loads  # not a plain install (or two versions side by side): let the imports load them
        version = tarballs[0].name[len(name) + 1:-len(".jsii.tgz")]
        loads.append((name, version, os.fspath(tarballs[0])))
    return loads


def _early_provider_class(base: type[Any]) -> type[Any]:
    """A subclass of jsii's ProcessProvider (imported late: only commands that build constructs pay for jsii)."""
    from jsii._kernel.providers.process import _NodeProcess
    from jsii._kernel.types import LoadRequest, LoadResponse

    class EarlyNodeProvider(base):  # type: ignore[misc]  # jsii's provider classes are untyped
        def __init__(self) -> None:
            super().__init__()
            #: What the thread loads; ``import constructs``/``import cdk8s`` then ask for the same and need not wait.
            self._early_loads = _assembly_loads()
            self._node: Any = None
            self._error: Exception | None = None
            self._thread = threading.Thread(target=self._start_node, name="mlkube-node-start", daemon=True)
            self._thread.start()

        def _started_node(self) -> Any:
            node = _NodeProcess()  # type: ignore[no-untyped-call]  # jsii's runtime has no annotations here
            node.start()  # type: ignore[no-untyped-call]
            for name, version, tarball in self._early_loads:
                node.send(LoadRequest(name=name, version=version, tarball=tarball), LoadResponse)
            return node

        def _start_node(self) -> None:
            try:
                self._node = self._started_node()
            except Exception as error:  # raised in the main thread at its first request, where jsii raises it
                self._error = error

        @property
        def _process(self) -> Any:
            self._thread.join()
            if self._error is not None:
                raise self._error
            return self._node

        def load(self, request: Any) -> Any:
            # jsii's Kernel.load discards the response (jsii/_kernel/__init__.py), so an assembly the thread
            # loads is answered at once: the import goes on while Node boots; the next request waits for it.
            if (request.name, request.version, request.tarball) in self._early_loads:
                return LoadResponse(assembly=request.name, types=0)
            return super().load(request)

    return EarlyNodeProvider
