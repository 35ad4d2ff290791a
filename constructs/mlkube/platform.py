"""The platform: a cdk8s App of environments, each holding apps (charts) of mlkube constructs.

The output layout is ``<out>/<environment>/<app>/<kind>-<name>.yaml``: one folder per environment
and app, the folder one Argo CD Application syncs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cdk8s
from constructs import Construct
from pydantic import Field

from .errors import MlkubeError, Problem
from .images.catalog import BuiltImages
from .manifest import Manifest
from .spec import DnsLabel, Spec, parse_spec
from .validation.schemas import DEFAULT_KUBERNETES_VERSION

__all__ = ["Platform", "Environment", "MlApp", "AppBuilder"]

#: Environment variable that overrides the output folder (``mlkube synth --out``).
OUT_ENV = "MLKUBE_OUT"
#: A registry host (with optional port) and optional repository path, without tag.
REGISTRY_PATTERN = r"^[a-zA-Z0-9.-]+(:[0-9]+)?(/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"


class Environment(Spec):
    """A target environment (a cluster, or a part of one): every app is synthesized once per environment."""

    name: DnsLabel = Field(description="Folder name under the output and part of every construct path, e.g. 'dev'.")
    namespace: str = Field("{app}", description="Namespace of each app's objects; '{app}' (default) is replaced by the app name.")
    kubernetes_version: str = Field(DEFAULT_KUBERNETES_VERSION, description="Kubernetes version whose schemas validate the output.")
    monitoring_namespace: DnsLabel = Field("monitoring", description="Namespace of Prometheus, allowed to scrape metrics ports.")
    registry: str = Field("registry.example.com/ml", pattern=REGISTRY_PATTERN, description="Registry and path that "
                          "built images are pushed to: <registry>/<image>:<content tag>. Default 'registry.example.com/ml'.")
    require_pinned_images: bool = Field(False, description="Synth fails unless every image is pinned by digest "
                                        "(through dist/images.lock.json). Default false.")

    def namespace_for(self, app: str) -> str:
        return self.namespace.replace("{app}", app)


AppBuilder = Callable[["MlApp"], None]


class MlApp(cdk8s.Chart):
    """One app in one environment: the objects of ``<out>/<environment>/<app>/``.

    mlkube constructs keep their objects as plain dicts here and hand them to cdk8s in a single
    call per chart (``to_json``), instead of one Python-to-Node call per object.
    """

    def __init__(self, scope: Construct, platform: Platform, environment: Environment, name: str) -> None:
        super().__init__(scope, name, namespace=environment.namespace_for(name), disable_resource_name_hashes=True)
        self.platform = platform
        self.environment = environment
        self.app_name = name
        self.namespace_name = environment.namespace_for(name)
        self.construct_path = f"{environment.name}/{name}"
        self.manifests: list[Manifest] = []
        self.problems: list[Problem] = []

    def add_object(self, obj: dict[str, Any], where: str) -> dict[str, Any]:
        """Register a finished object (a plain dict) under the construct path ``where``."""
        self.manifests.append(Manifest(obj, where, self.environment.name, self.app_name))
        return obj

    def report(self, problems: Sequence[Problem]) -> None:
        """Record user errors; synth reports all of them together and writes nothing."""
        self.problems.extend(problems)

    def to_json(self) -> list[Any]:
        """All objects of this chart: mlkube's own, then any added with plain cdk8s constructs."""
        return [m.obj for m in self.manifests] + list(super().to_json())


class Platform(cdk8s.App):
    """The root of a blueprint: environments × apps.

    >>> platform = Platform(environments=[Environment(name="dev")])
    >>> @platform.app("fraud-scoring")
    ... def fraud_scoring(app: MlApp) -> None:
    ...     InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2")
    >>> platform.synth()   # writes dist/dev/fraud-scoring/*.yaml
    """

    def __init__(self, environments: Sequence[Environment | dict[str, Any]] = (), *, out_dir: str | os.PathLike[str] = "dist") -> None:
        super().__init__()
        self.out_dir = Path(os.environ.get(OUT_ENV) or out_dir)
        self.problems: list[Problem] = []
        self.environments: list[Environment] = []
        for index, value in enumerate(environments or [Environment(name="dev")]):
            spec, problems = parse_spec(Environment, value, {}, f"environments[{index}]")
            self.problems += problems
            if spec is not None:
                self.environments.append(spec)
        self.apps: list[MlApp] = []
        #: Images built for the platform (Image.build), filled as constructs resolve their images.
        self.built_images = BuiltImages()
        self._environment_scopes: dict[str, Construct] = {}

    def app(self, name: str, build: AppBuilder | None = None) -> Any:
        """Define an app in every environment; usable as ``@platform.app("name")`` or directly."""

        def register(function: AppBuilder) -> AppBuilder:
            for environment in self.environments:
                self.apps.append(self._build_app(environment, name, function))
            return function

        return register(build) if build is not None else register

    def _build_app(self, environment: Environment, name: str, build: AppBuilder) -> MlApp:
        scope = self._environment_scopes.get(environment.name)
        if scope is None:
            scope = self._environment_scopes[environment.name] = Construct(self, environment.name)
        app = MlApp(scope, self, environment, name)
        build(app)
        return app

    def synthesize(self, out_dir: str | os.PathLike[str] | None = None) -> Any:
        """Build, validate and write the output; raises MlkubeError with every problem found."""
        from .synth import synthesize

        return synthesize(self, Path(out_dir) if out_dir is not None else self.out_dir)

    def synth(self) -> None:
        """What ``cdk8s synth`` runs: synthesize, print problems and exit non-zero on any error."""
        try:
            result = self.synthesize()
        except MlkubeError as error:
            print(str(error), file=sys.stderr)
            sys.exit(error.exit_code)
        print(result.summary(), file=sys.stderr)
