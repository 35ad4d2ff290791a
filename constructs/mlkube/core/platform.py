"""The platform: a cdk8s App of environments, each holding apps (charts) of mlkube constructs.

The output layout is ``<out>/<environment>/<app>/<kind>-<name>.yaml``: one folder per environment
and app, the folder one Argo CD Application syncs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

import cdk8s
from pydantic import Field, model_validator

from constructs import Construct

from ..errors import EXIT_USER_ERROR, MlkubeError, Problem, os_error_text
from ..kube.manifest import Manifest
from ..kube.quantity import Quantity
from ..kube.versions import DEFAULT_KUBERNETES_VERSION
from .gc_tuning import freeze_built_objects, tune_for_one_command
from .gitops_settings import IN_CLUSTER, GitOps, LimitRangeSpec, NetworkSpec, QuotaSpec, SyncPolicy, WorkloadOverride
from .kueue_platform import KueueSpec
from .lazy_node import LazyNode, track_children
from .operators import Operator, check_operator_versions
from .pipeline import ImageCatalog, Pipeline, Step, default_pipeline
from .spec import DnsLabel, Spec, parse_spec
from .tenancy import Tenancy, app_name_problem

if TYPE_CHECKING:
    from .synth import SynthResult

__all__ = ["Platform", "Environment", "EnvironmentScope", "MlApp", "AppBuilder"]

#: Environment variable that overrides the output folder (``mlkube synth --out``).
OUT_ENV = "MLKUBE_OUT"
#: Set by the `cdk8s synth` CLI for the app it runs: the folder it reads back (cdk8s-cli lib/util.js synthApp).
CDK8S_OUTDIR_ENV = "CDK8S_OUTDIR"
#: A registry host (with optional port) and optional repository path, without tag.
REGISTRY_PATTERN = r"^[a-zA-Z0-9.-]+(:[0-9]+)?(/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"


def _report_user_errors_without_traceback() -> None:
    """Under ``cdk8s synth`` (``python apps/main.py``) a wrong spec value raised in the blueprint itself
    is printed as an mlkube error, not a traceback (``mlkube synth`` catches it in the CLI)."""
    if not isinstance(sys.excepthook, _UserErrorHook):
        sys.excepthook = _UserErrorHook(sys.excepthook)


class _UserErrorHook:
    """``sys.excepthook``: an mlkube user error is printed without a traceback; anything else goes to the previous hook."""

    def __init__(self, previous: Callable[[type[BaseException], BaseException, TracebackType | None], Any]) -> None:
        self.previous = previous

    def __call__(self, kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        from .spec import user_error

        converted = user_error(error)
        if converted is None:
            self.previous(kind, error, tb)
        else:
            print(str(converted), file=sys.stderr)


class Environment(Spec):
    """A target environment (a cluster, or a part of one): every app is synthesized once per environment."""

    name: DnsLabel = Field(description="Folder name under the output and part of every construct path, e.g. 'dev'.")
    namespace: str = Field(default="{app}", description="Namespace of each app's objects; '{app}' (default) is replaced by the app name.")
    kubernetes_version: str = Field(default=DEFAULT_KUBERNETES_VERSION, description="Kubernetes version whose schemas validate the output.")
    monitoring_namespace: DnsLabel = Field(default="monitoring", description="Namespace of Prometheus, allowed to scrape metrics ports.")
    allowed_registries: tuple[str, ...] = Field(default=(), description="Image reference prefixes allowed in this environment "
                                                "(e.g. 'ghcr.io/acme/'); empty (default) allows any registry.")
    operators: list[Operator] | dict[Operator, str | None] | None = Field(default=None, description=(
        "Operators installed in this environment, as a list or mapped to the version each runs (e.g. {'kserve': '0.15', 'kueue': '0.13', "
        "'jobset': '0.8'}; null: version not said). Fields and values are emitted for that version; an option that needs a missing "
        "operator, or that its version lacks, is an error. Default: not declared, every option allowed (KServe taken as 0.15)."))
    # GitOps (core/gitops_settings.py): where and how Argo CD deploys the environment, and what it may change.
    production: bool = Field(default=False, description="A production environment: manual sync by default, every image pinned by digest, and gated: "
                             "its images change only through `mlkube promote` (from promote_from, else the environment listed before it). Default: false.")
    promote_from: DnsLabel | None = Field(default=None, description="The environment whose locked images this one receives, only through `mlkube promote`; "
                                          "makes this environment gated (pin, synth and check never change its images). Default: none "
                                          "(a production environment promotes from the environment listed before it).")
    cluster: str = Field(default=IN_CLUSTER, description="Argo CD destination: a server URL (https://...) or a cluster name. Default: the cluster Argo CD runs in.")
    clusters: list[str] = Field(default_factory=list, description="Deploy every app to these Argo CD clusters (by name) with one ApplicationSet instead. Default: only 'cluster'.")
    sync: SyncPolicy = Field(default_factory=SyncPolicy, description="Argo CD sync policy. Default: automated with prune and self-heal; manual in production.")
    overrides: dict[str, WorkloadOverride] = Field(default_factory=dict, description="Per-construct spec overrides keyed by '<app>/<construct id>'. Default: none.")
    quota: QuotaSpec = Field(default_factory=QuotaSpec, description="ResourceQuota of each namespace. Default: 64 CPUs, 512Gi, 8 GPUs.")
    limits: LimitRangeSpec = Field(default_factory=LimitRangeSpec, description="LimitRange defaults of each namespace. Default: 250m/256Mi requests, 1/1Gi limits.")
    network: NetworkSpec = Field(default_factory=NetworkSpec, description="Namespace-wide default-deny NetworkPolicy allowances. Default: DNS egress only.")
    kueue_cluster_queue: str | None = Field(default=None, description="Kueue ClusterQueue that the LocalQueues of each namespace point at: 'default', and one per queue name a job uses. Default: none, and a job with a queue is an error.")
    kueue: KueueSpec | None = Field(default=None, description="Kueue objects of this environment's cluster (ResourceFlavors, "
                                    "ClusterQueues with GPU quotas, WorkloadPriorityClasses), emitted with the first app; every "
                                    "queued job is checked to fit a flavor of its ClusterQueue. Default: none (Kueue set up elsewhere).")
    registry: str = Field(default="registry.example.com/ml", pattern=REGISTRY_PATTERN, description="Registry and path that "
                          "built images are pushed to: <registry>/<image>:<content tag>. Default 'registry.example.com/ml'.")
    storage_binding_modes: dict[str, Literal["Immediate", "WaitForFirstConsumer"]] = Field(
        default_factory=dict, description="volumeBindingMode of each StorageClass of the cluster (by class name). An Immediate "
        "class's claims sync in wave -1, before the workloads; any other claim (WaitForFirstConsumer, an undeclared class, "
        "the default class) syncs with the workloads that bind it, so it never holds a sync. Default: none declared.")
    node_model_storage: Quantity | None = Field(default=None, description="Disk a node has for the models its pods download (the "
                                                "ephemeral storage of their emptyDir volumes). A model whose cache_size is larger fails "
                                                "synth. Default: not declared, not checked.")
    require_pinned_images: bool = Field(default=False, description="Synth fails unless every image is pinned by digest "
                                        "(through dist/images.lock.json). Default false.")

    @model_validator(mode="after")
    def _known_versions(self) -> Environment:
        problems = check_operator_versions(self.operator_versions or {})
        if self.kueue is not None and self.kueue.cluster_queues and self.kueue_cluster_queue is not None \
                and self.kueue.queue(self.kueue_cluster_queue) is None:
            problems.append(f"kueue_cluster_queue '{self.kueue_cluster_queue}' is not one of the declared cluster queues "
                            f"({', '.join(q.name for q in self.kueue.cluster_queues)})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def operator_versions(self) -> dict[str, str | None] | None:
        """The declared operators, each with its version (None when not said); None when not declared at all."""
        if self.operators is None:
            return None
        if isinstance(self.operators, dict):
            return {str(name): version for name, version in self.operators.items()}
        return dict.fromkeys(self.operators)

    def namespace_for(self, app: str) -> str:
        return self.namespace.replace("{app}", app)

    @property
    def automated_sync(self) -> bool:
        return self.sync.automated if self.sync.automated is not None else not self.production


AppBuilder = Callable[["MlApp"], object]
#: The function given to ``platform.app``; the decorator gives it back unchanged (its own type kept).
B = TypeVar("B", bound=AppBuilder)


class MlApp(LazyNode, cdk8s.Chart):
    """One app in one environment: the objects of ``<out>/<environment>/<app>/``.

    mlkube constructs keep their objects as plain dicts here and hand them to cdk8s in a single
    call per chart (``to_json``), instead of one Python-to-Node call per object. The chart is created
    in Node only when Node is asked something (core/lazy_node.py).
    """

    def __init__(self, scope: Construct, platform: Platform, environment: Environment, name: str) -> None:
        namespace = environment.namespace_for(name)
        # What cdk8s.Chart.__init__ passes, made when created in Node (see LazyNode._create_root_later: jsii structs).
        if not self._create_later(scope, name, lambda: [scope, name, cdk8s.ChartProps(namespace=namespace, disable_resource_name_hashes=True)]):
            super().__init__(scope, name, namespace=namespace, disable_resource_name_hashes=True)
        self.platform = platform
        self.environment = environment
        self.app_name = name
        self.namespace_name = environment.namespace_for(name)
        self.construct_path = f"{environment.name}/{name}"
        self.manifests: list[Manifest] = []
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        #: Connections the app's pods need (traffic.model.Connection), proved allowed at synth (traffic/check.py).
        self.connections: list[Any] = []
        #: Emitted objects with escape-hatch JSON patches still to apply (escape_hatch.py), in the order they were patched.
        self.patched_objects: list[Any] = []

    def warn(self, where: str, message: str) -> None:
        """A synth-time note that does not fail synth (for example a setting a backend ignores)."""
        self.warnings.append(f"{where}: {message}")

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


class _NoImageBuilds:
    """The image catalog of a pipeline without one: a built image is an error at the container that uses it."""

    def __init__(self) -> None:
        self.images: dict[str, Any] = {}

    def use(self, spec: Any, app: MlApp, used_by: str, container: str) -> str:
        app.report([Problem(used_by, "image", f"image {spec.name!r} of container {container!r} is built (Image.build), and this "
                            "platform's pipeline builds no images",
                            "give Platform a pipeline with an image_catalog (the default pipeline has one), or use Image.from_registry")])
        return f"{app.environment.registry}/{spec.name}:invalid"


class EnvironmentScope(LazyNode, Construct):
    """The scope of one environment's apps (construct path ``<environment>``), created in Node when Node needs it."""

    def __init__(self, platform: Platform, environment: str) -> None:
        if not self._create_later(platform, environment, [platform, environment]):
            super().__init__(platform, environment)


class Platform(LazyNode, cdk8s.App):
    """The root of a blueprint: environments × apps.

    >>> platform = Platform(environments=[Environment(name="dev")])
    >>> @platform.app("fraud-scoring")
    ... def fraud_scoring(app: MlApp) -> None:
    ...     InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2")
    >>> platform.synth()   # writes dist/dev/fraud-scoring/*.yaml

    ``checks``: functions ``check(ctx: SynthContext)`` run after the pipeline's own checks, appending mlkube
    Problems to ``ctx.problems`` (synth then fails, exit 2). ``crd_schemas``: folders of CRD schemas that
    validate custom resources. ``pipeline``: replaces the default pipeline (core/pipeline.py).
    """

    def __init__(self, environments: Sequence[Environment | dict[str, Any]] = (), *, out_dir: str | os.PathLike[str] = "dist",
                 gitops: GitOps | dict[str, Any] | None = None, tenancy: Tenancy | dict[str, Any] | None = None,
                 pipeline: Pipeline | None = None, checks: Sequence[Step] = (),
                 crd_schemas: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = ()) -> None:
        if not self._create_root_later(lambda: [cdk8s.AppProps()]):  # created in Node when Node is first asked (core/lazy_node.py)
            super().__init__()
        track_children(self)  # every child created in the tree from now on is seen (core/lazy_node.py)
        if os.environ.get(CDK8S_OUTDIR_ENV):
            # The process the `cdk8s synth` CLI runs (cdk8s-cli lib/util.js synthApp sets CDK8S_OUTDIR for it) is one
            # synth, then exits: the collector skips what lives until then (core/gc_tuning.py).
            tune_for_one_command()
        _report_user_errors_without_traceback()
        self.out_dir = Path(os.environ.get(OUT_ENV) or out_dir)
        self.problems: list[Problem] = []
        #: The synth steps of this platform (core/pipeline.py): the default pipeline of every capability unless
        #: one is given, then the checks given here (each appends its problems to ``ctx.problems``).
        self.pipeline: Pipeline = (pipeline if pipeline is not None else default_pipeline()).with_steps(checks=self._callables(checks))
        #: Folders of CRD JSON schemas ({group}/{kind}_{version}.json, what `mlkube schemas import` writes) that
        #: validate custom resources mlkube does not carry a schema for (a `cdk8s import` class, a raw ApiObject).
        self.crd_schemas: tuple[Path, ...] = tuple(Path(folder) for folder in ([crd_schemas] if isinstance(crd_schemas, (str, os.PathLike)) else crd_schemas))
        self.problems += [Problem("Platform(crd_schemas=...)", "", f"CRD schema folder '{folder}' does not exist",
                                  "give folders in the {group}/{kind}_{version}.json layout: `mlkube schemas import CRD.yaml --out DIR` "
                                  "writes one") for folder in self.crd_schemas if not folder.is_dir()]
        #: The GitOps layer (namespace guard rails, Argo CD, CI workflows) is on when settings are given.
        self.gitops: GitOps | None = None
        if gitops is not None:
            self.gitops, problems = parse_spec(GitOps, gitops, {}, "gitops")
            self.problems += problems
        #: What apps may do (core/tenancy.py): this, else the GitOps settings' tenancy, else the defaults.
        self.tenancy: Tenancy | None = None
        if tenancy is not None:
            self.tenancy, problems = parse_spec(Tenancy, tenancy, {}, "tenancy")
            self.problems += problems
        #: Override keys ('<env>/<app>/<id>') a construct used; the rest are reported as typos.
        self.used_overrides: set[str] = set()
        self.environments: list[Environment] = []
        for index, value in enumerate(environments or [Environment(name="dev")]):
            spec, problems = parse_spec(Environment, value, {}, f"environments[{index}]")
            self.problems += problems
            if spec is not None:
                self.environments.append(spec)
        self.apps: list[MlApp] = []
        #: Constructs' specs by their input of plain data (core/spec.py ``parse_spec``): an app is built once per
        #: environment, mostly from the same arguments, and validating them again gives an equal, frozen spec.
        self.parsed_specs: dict[Any, Any] = {}
        #: The function that builds each app and the environments it was given (``mlkube chart`` rebuilds one app from it).
        self.builders: dict[str, tuple[AppBuilder, Sequence[str] | None]] = {}
        #: Images built for the platform (Image.build), filled as constructs resolve their images.
        self.built_images: ImageCatalog = self.pipeline.image_catalog() if self.pipeline.image_catalog else _NoImageBuilds()
        self._environment_scopes: dict[str, Construct] = {}

    @overload
    def app(self, name: str, build: None = None, *, environments: Sequence[str] | None = None) -> Callable[[B], B]: ...

    @overload
    def app(self, name: str, build: B, *, environments: Sequence[str] | None = None) -> B: ...

    def app(self, name: str, build: B | None = None, *, environments: Sequence[str] | None = None) -> B | Callable[[B], B]:
        """Define an app in every environment (or the named ones); usable as ``@platform.app("name")`` or directly."""

        def register(function: B) -> B:
            problem = app_name_problem(name)
            if problem is not None:
                # Checked as the YAML blueprint's 'app' is: the name becomes a folder and a namespace.
                self.problems.append(Problem(f"platform.app({name!r})", "name", problem, "e.g. platform.app(\"fraud-scoring\")"))
                return function
            self.builders[name] = (function, environments)
            for environment in self.environments:
                if environments is None or environment.name in environments:
                    self.apps.append(self._build_app(environment, name, function))
            return function

        return register(build) if build is not None else register

    def load_blueprints(self, root: str | os.PathLike[str] = "apps") -> list[Any]:
        """Define an app for every YAML blueprint ``<root>/**/mlkube.yaml``; their errors fail synth."""
        if self.pipeline.blueprint_loader is None:
            raise MlkubeError.single("this platform's pipeline loads no YAML blueprints", where="Platform.load_blueprints",
                                     hint="give Platform a pipeline with a blueprint_loader (the default pipeline has one)")
        return self.pipeline.blueprint_loader(self, Path(root))

    def _callables(self, checks: Sequence[object]) -> list[Step]:
        """The checks given, each a function of the synth context (anything else is a problem: synth fails, naming it)."""
        steps: list[Step] = []
        for index, check in enumerate(checks):
            if callable(check):
                steps.append(cast(Step, check))
            else:
                self.problems.append(Problem("Platform", f"checks[{index}]", f"{check!r} is not a function",
                                             "give functions check(ctx) that append mlkube Problems to ctx.problems"))
        return steps

    def _build_app(self, environment: Environment, name: str, build: AppBuilder) -> MlApp:
        scope = self._environment_scopes.get(environment.name)
        if scope is None:
            scope = self._environment_scopes[environment.name] = EnvironmentScope(self, environment.name)
        app = MlApp(scope, self, environment, name)
        build(app)
        # What the app built lives until synth ends: in a one-command process the collector's young collections
        # no longer walk it (they walked every object built once: 0.04 s of building 5,031 objects).
        freeze_built_objects()
        return app

    def synthesize(self, out_dir: str | os.PathLike[str] | None = None) -> SynthResult:
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
        except OSError as error:  # a read-only or full file system
            print(f"error: {os_error_text(error)}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)
        finally:
            freeze_built_objects()  # in a tuned process, which exits next: the collection at exit skips it all
        self._write_cdk8s_outdir(result)
        print(result.summary(), file=sys.stderr)

    def _write_cdk8s_outdir(self, result: SynthResult) -> None:
        """Under the cdk8s CLI, also give it one ``<env>.k8s.yaml`` per environment in its own output folder.

        That folder is a scratch copy (the CLI deletes it before every run); it keeps
        ``cdk8s synth --stdout`` and cdk8s validation plugins working. dist/ is the config repo.
        """
        outdir = os.environ.get(CDK8S_OUTDIR_ENV)
        if not outdir or Path(outdir).absolute() == self.out_dir.absolute():
            return
        Path(outdir).mkdir(parents=True, exist_ok=True)
        by_environment: dict[str, list[str]] = {}
        for relative in sorted(result.files):
            environment, _, rest = relative.partition("/")
            if rest.count("/") == 1 and rest.endswith(".yaml"):
                by_environment.setdefault(environment, []).append(relative)
        for environment, paths in by_environment.items():  # one file's bytes at a time (result.files reads them)
            with open(Path(outdir) / f"{environment}.k8s.yaml", "wb") as stream:
                for index, relative in enumerate(paths):
                    stream.write((b"---\n" if index else b"") + result.files[relative])
