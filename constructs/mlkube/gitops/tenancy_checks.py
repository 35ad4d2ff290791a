"""The synth step that holds every app to the tenancy the platform declares (core/tenancy.py).

- an app's namespace is a DNS label and not reserved (kube-*, default, Argo CD's, operators', the platform's);
- every object of an app is of a declared kind, and lives in the app's own namespace (cluster-scoped: only
  the app's Namespace, or a declared cluster kind);
- an ExternalSecret read through a ClusterSecretStore (shared by every namespace) only asks for keys under
  the app's key prefix; a namespaced SecretStore is the app's own, so what it can read was granted to it;
- pods use no ``system-*`` PriorityClass (Kubernetes' node- and cluster-critical classes) and only the
  declared ones when the platform lists them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..core.pipeline import independent_check
from ..core.spec import DNS_LABEL
from ..core.tenancy import Tenancy, reserved_namespace_reason
from ..errors import Problem
from ..kube.manifest import Manifest
from ..kube.pods import pod_views

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["check_tenancy", "namespace_problems", "object_problems", "tenancy_of"]


def tenancy_of(platform: Any) -> tuple[Tenancy, str]:
    """The platform's declared tenancy (``Platform(tenancy=...)``, else ``GitOps.tenancy``, else the defaults)
    and Argo CD's namespace."""
    gitops = getattr(platform, "gitops", None)
    tenancy = getattr(platform, "tenancy", None) or (gitops.tenancy if gitops is not None else Tenancy())
    return tenancy, gitops.argocd_namespace if gitops is not None else "argocd"


def namespace_problems(platform: Any) -> list[Problem]:
    """Apps whose namespace is not a DNS label, or is reserved (read from the platform's apps, not their objects)."""
    tenancy, argocd_namespace = tenancy_of(platform)
    return list(_namespace_problems(platform, tenancy, argocd_namespace))


def object_problems(platform: Any, manifests: Sequence[Manifest]) -> list[Problem]:
    """The rules that read one object alone (its kind and namespace, an ExternalSecret's keys, a pod's PriorityClass),
    in that order, each over ``manifests`` in order."""
    tenancy, _ = tenancy_of(platform)
    return [*_scope_problems(platform, manifests, tenancy), *_external_secret_problems(platform, manifests, tenancy),
            *_priority_class_problems(manifests, tenancy)]


def _namespace_problems(platform: Any, tenancy: Tenancy, argocd_namespace: str) -> Iterator[Problem]:
    seen: set[tuple[str, str]] = set()
    for app in platform.apps:
        environment, namespace = app.environment, app.namespace_name
        if (environment.name, namespace) in seen:
            continue
        seen.add((environment.name, namespace))
        where = f"environments[{environment.name}]"
        if len(namespace) > 63 or not DNS_LABEL.fullmatch(namespace):
            yield Problem(where, "namespace", f"app {app.app_name!r} would live in namespace {namespace!r}, which is not a DNS-1123 label",
                          f"keep Environment.namespace ({environment.namespace!r}) and app names short: at most 63 lower-case "
                          "letters, digits and '-'")
            continue
        reason = reserved_namespace_reason(namespace, tenancy, argocd_namespace, environment)
        if reason:
            yield Problem(where, "namespace", f"app {app.app_name!r} would take over namespace {namespace!r}: {reason}",
                          "rename the app, or set Environment.namespace to a template such as 'ml-{app}'")


def _kind_text(group: str, kind: str) -> str:
    return f"{group}/{kind}" if group else kind


def _scope_problem(manifest: Manifest, namespace: str, namespaced: set[tuple[str, str]],
                   cluster: set[tuple[str, str]]) -> Problem | None:
    group = str(manifest.obj.get("apiVersion", "")).rpartition("/")[0]
    key = (group, manifest.kind)
    own = f"{manifest.describe()} of app {manifest.app!r}"
    if key == ("", "Namespace"):
        if manifest.name != namespace:
            return Problem(manifest.where, "metadata.name", f"{own} is not the app's namespace {namespace!r}",
                           "an app owns exactly its own namespace; create objects inside it")
        return None
    if key in cluster:
        return None
    if key not in namespaced:
        return Problem(manifest.where, "kind", f"{own}: kind {_kind_text(*key)} is not among the kinds the platform allows apps "
                       "(the environment's AppProject would refuse it)",
                       "declare it in GitOps(tenancy=Tenancy(extra_kinds=[...])) (cluster-scoped: extra_cluster_kinds) if "
                       "every app may deploy it; cluster-wide objects such as ClusterRoleBindings belong to the platform, not an app")
    if manifest.namespace != namespace:
        return Problem(manifest.where, "metadata.namespace", f"{own} is in namespace {manifest.namespace or '(none)'!r}, "
                       f"not the app's namespace {namespace!r}", "leave metadata.namespace unset (the app's namespace is used)")
    return None


def _scope_problems(platform: Any, manifests: Sequence[Manifest], tenancy: Tenancy) -> Iterator[Problem]:
    environments = {env.name: env for env in platform.environments}
    namespaced = {name: set(tenancy.namespaced_kinds(env.operators)) for name, env in environments.items()}
    cluster = set(tenancy.cluster_kinds())
    for manifest in manifests:
        environment = environments.get(manifest.environment)
        if environment is None or manifest.app.startswith("_"):
            continue  # Argo CD's own objects (_argocd) are the platform's
        problem = _scope_problem(manifest, environment.namespace_for(manifest.app), namespaced[environment.name], cluster)
        if problem is not None:
            yield problem


def _remote_keys(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path, remote key) of every key an ExternalSecret asks its store for."""
    for index, item in enumerate(spec.get("data") or []):
        ref = (item or {}).get("remoteRef") or {} if isinstance(item, dict) else {}
        yield f"spec.data[{index}].remoteRef.key", str(ref.get("key", ""))
    for index, item in enumerate(spec.get("dataFrom") or []):
        item = item if isinstance(item, dict) else {}
        if "extract" in item:
            yield f"spec.dataFrom[{index}].extract.key", str((item["extract"] or {}).get("key", ""))
        if "find" in item:
            # A search over the store: only a search rooted under the prefix stays inside the app's keys.
            yield f"spec.dataFrom[{index}].find.path", str((item["find"] or {}).get("path", ""))


def _external_secret_problems(platform: Any, manifests: Sequence[Manifest], tenancy: Tenancy) -> Iterator[Problem]:
    environments = {env.name: env for env in platform.environments}
    for manifest in manifests:
        if manifest.kind != "ExternalSecret" or manifest.environment not in environments or manifest.app.startswith("_"):
            continue
        spec = manifest.obj.get("spec") or {}
        store = spec.get("secretStoreRef") or {}
        # External Secrets Operator reads secretStoreRef.kind as SecretStore when it is left out
        # (external-secrets CRD externalsecrets.external-secrets.io, secretStoreRef.kind: "Defaults to `SecretStore`").
        if store.get("kind", "SecretStore") != "ClusterSecretStore":
            continue
        prefix = tenancy.key_prefix(manifest.app, manifest.environment, environments[manifest.environment].namespace_for(manifest.app))
        for field, key in _remote_keys(spec):
            if not key.startswith(prefix):
                yield Problem(manifest.where, field, f"{manifest.describe()} of app {manifest.app!r} reads {key!r} through "
                              f"ClusterSecretStore {store.get('name')!r}, outside the app's keys ({prefix!r}...)",
                              f"store the secret under '{prefix}' (GitOps.tenancy.secret_key_prefix), or read it through a "
                              "SecretStore in the app's own namespace")


def _priority_class_problems(manifests: Sequence[Manifest], tenancy: Tenancy) -> Iterator[Problem]:
    allowed = tenancy.allowed_priority_classes
    for manifest in manifests:
        if manifest.app.startswith("_"):
            continue
        for pod in pod_views(manifest.obj):
            name = pod.spec.get("priorityClassName")
            if name is None:
                continue
            name = str(name)
            # system-node-critical and system-cluster-critical preempt every workload and are meant for
            # node and cluster components (https://kubernetes.io/docs/tasks/administer-cluster/guaranteed-scheduling-critical-addon-pods/);
            # the API server reserves the 'system-' prefix for them (pkg/apis/scheduling/validation:
            # ValidatePriorityClass, "priority class names with 'system-' prefix are reserved").
            if name.startswith("system-"):
                yield Problem(manifest.where, pod.field("priorityClassName"), f"{manifest.describe()} uses PriorityClass {name!r}, "
                              "reserved for Kubernetes' own node- and cluster-critical components",
                              f"use one of the platform's classes: {', '.join(allowed) if allowed else 'any name not starting with system-'}")
            elif allowed is not None and name not in allowed:
                yield Problem(manifest.where, pod.field("priorityClassName"), f"{manifest.describe()} uses PriorityClass {name!r}, "
                              "which the platform does not allow", f"allowed: {', '.join(allowed) or 'none'} "
                              "(GitOps.tenancy.allowed_priority_classes)")


@independent_check
def check_tenancy(ctx: SynthContext) -> None:
    """Every app stays in its namespace, kinds, secret keys and priority classes (a CHECKS step)."""
    ctx.problems += namespace_problems(ctx.platform)
    ctx.problems += object_problems(ctx.platform, ctx.manifests)
