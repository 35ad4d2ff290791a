"""One app of one environment, synthesized in memory: the objects synth writes, and rebuilds with a spec changed.

``mlkube chart`` needs the exact objects of ``dist/<env>/<app>/`` (the templates are those objects)
and the same app rebuilt with one parameter changed (to find where the parameter lands). It runs
the platform file without synthesizing (``run_name`` is not ``__main__``), then rebuilds every app of
the chosen environment in a platform of only that environment (an app's folder can hold objects that
another app's connections put there): every transform and check of synth runs, nothing is written, and
the lock is read from the real output folder so pinned digests apply.
"""

from __future__ import annotations

import copy
import os
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from unittest import mock

from ..core.construct import SPEC_PATCHES, MlConstruct
from ..core.platform import Platform
from ..errors import MlkubeError
from ..kube.render import file_name

__all__ = ["load_platform", "AppBuild", "EnvironmentBuilder", "build_app"]


def load_platform(app_file: Path) -> Platform:
    """The Platform that the blueprint file defines (it is run, but not as ``__main__``: nothing is synthesized)."""
    if not app_file.exists():
        raise MlkubeError.single(f"app file {app_file} does not exist", hint="pass --app PATH or fix cdk8s.yaml")
    sys.path.insert(0, str(app_file.parent.absolute()))
    called: list[Platform] = []
    # A file that calls platform.synth() unconditionally must not write its output here: the call only names the platform.
    with mock.patch.object(Platform, "synth", lambda self: called.append(self)):
        names = runpy.run_path(str(app_file), run_name="mlkube_chart")
    platforms = list(dict.fromkeys([*called, *(value for value in names.values() if isinstance(value, Platform))]))
    if len(platforms) != 1:
        raise MlkubeError.single(f"{app_file} defines {len(platforms)} Platform objects at module level", where=str(app_file),
                                 hint="define exactly one, e.g. platform = Platform(environments=[...])")
    return platforms[0]


class AppBuild:
    """The objects of one app in one environment (file name -> object), and its workload specs by construct id."""

    def __init__(self, objects: dict[str, dict[str, Any]], specs: dict[str, tuple[str, Any]]) -> None:
        self.objects = objects
        #: construct id -> (kind name, spec) of the app's top-level workloads.
        self.specs = specs


def _environment(platform: Platform, environment: str) -> Any:
    known = [env.name for env in platform.environments]
    if environment not in known:
        raise MlkubeError.single(f"the platform has no environment '{environment}'", hint=f"environments: {', '.join(known)}")
    return next(env for env in platform.environments if env.name == environment)


class EnvironmentBuilder:
    """Builds of one environment, sharing what does not change between them: the default build of every app
    (synthesized and checked once, whichever apps are exported) and the schema results of objects already
    validated (validation.synth_step.SchemaMemo). A probe changes a few objects: only those are schema-validated again;
    every transform and check of synth still runs on the whole environment."""

    def __init__(self, platform: Platform, environment: str, out_dir: Path) -> None:
        from ..validation.synth_step import SchemaMemo

        _environment(platform, environment)
        self.platform, self.environment, self.out_dir = platform, environment, out_dir
        self.memo = SchemaMemo()
        self._defaults: dict[str, AppBuild] | None = None

    def check_app(self, app: str) -> None:
        if app not in self.platform.builders:
            raise MlkubeError.single(f"the platform has no app '{app}'", hint=f"apps: {', '.join(sorted(self.platform.builders))}")
        environments = self.platform.builders[app][1]
        if environments is not None and self.environment not in environments:
            raise MlkubeError.single(f"the app '{app}' does not run in environment '{self.environment}'",
                                     hint=f"its environments: {', '.join(environments)}")

    def apps(self) -> list[str]:
        """The apps that run in this environment, in the platform's order."""
        return [name for name, (_, allowed) in self.platform.builders.items() if allowed is None or self.environment in allowed]

    def default(self, app: str) -> AppBuild:
        """The app as synth builds it (the environment is built once, for every app)."""
        self.check_app(app)
        if self._defaults is None:
            self._defaults = self._build(None, self.apps(), f"the environment '{self.environment}' does not synthesize")
        return self._defaults[app]

    def build(self, app: str, patches: Mapping[str, Mapping[str, Any]] | None = None, *, allow_unpinned: bool = False) -> AppBuild:
        """``app`` rebuilt with ``patches`` (spec fields by construct id); ``allow_unpinned``: see build_app."""
        self.check_app(app)
        if not patches:
            return self.default(app)
        if allow_unpinned:
            from ..pinning.synth_steps import ALLOW_UNPINNED_ENV

            saved = os.environ.get(ALLOW_UNPINNED_ENV)
            os.environ[ALLOW_UNPINNED_ENV] = "1"
            try:
                return self.build(app, patches)
            finally:
                os.environ.pop(ALLOW_UNPINNED_ENV) if saved is None else os.environ.__setitem__(ALLOW_UNPINNED_ENV, saved)
        title = f"the app '{app}' does not synthesize in '{self.environment}'"
        return self._build({f"{self.environment}/{app}/{construct_id}": dict(fields) for construct_id, fields in patches.items()},
                           [app], title)[app]

    def _build(self, by_path: dict[str, dict[str, Any]] | None, wanted: list[str], title: str) -> dict[str, AppBuild]:
        from ..core.synth import checked_context

        # The app's own objects do not depend on where Argo CD takes them from; a chart is exported before it is locked.
        gitops = self.platform.gitops.model_copy(update={"source": "manifests"}) if self.platform.gitops is not None else None
        chosen = _environment(self.platform, self.environment)
        # The platform's own settings, so each build checks what synth checks (tenancy, its CRD schema folders).
        single = Platform(environments=[chosen], gitops=gitops, out_dir=self.out_dir, tenancy=self.platform.tenancy,
                          crd_schemas=self.platform.crd_schemas, pipeline=self.platform.pipeline)
        token = SPEC_PATCHES.set(by_path or {})
        try:
            # Every app of the environment: an app's folder can hold objects another app's connections put there
            # (traffic/senders.py writes callers' egress policies into the callers' namespace).
            for name in self.apps():
                single.app(name, self.platform.builders[name][0])
        finally:
            SPEC_PATCHES.reset(token)
        ctx = checked_context(single, self.out_dir, memo=self.memo)
        if ctx.problems:
            raise MlkubeError(ctx.problems, title=title)
        return {app: _app_build(ctx, single, self.environment, app) for app in wanted}


def _app_build(ctx: Any, single: Platform, environment: str, app: str) -> AppBuild:
    from ..blueprint import workload_kinds

    objects = {file_name(m.obj): copy.deepcopy(m.obj) for m in ctx.manifests if m.app == app and m.environment == environment}
    kinds = {kind.construct: kind.name for kind in workload_kinds().values()}
    specs: dict[str, tuple[str, Any]] = {}
    built = next(a for a in single.apps if a.app_name == app)
    for child in built.node.children:
        spec = getattr(child, "spec", None)  # the parsed spec of a workload construct; None when it was invalid
        if isinstance(child, MlConstruct) and type(child) in kinds and spec is not None:
            specs[child.construct_id] = (kinds[type(child)], spec)
    return AppBuild(objects, specs)


def build_app(platform: Platform, environment: str, app: str, out_dir: Path,
              patches: Mapping[str, Mapping[str, Any]] | None = None, *, allow_unpinned: bool = False) -> AppBuild:
    """Synthesize ``app`` in ``environment`` in memory (every synth check runs); ``patches``: spec fields by construct id.

    ``allow_unpinned``: an image probe by tag is accepted where the environment requires pinned images (the
    documented MLKUBE_ALLOW_UNPINNED of the build job), so the probe builds the way the lock's tag was built.
    """
    return EnvironmentBuilder(platform, environment, out_dir).build(app, patches, allow_unpinned=allow_unpinned)
