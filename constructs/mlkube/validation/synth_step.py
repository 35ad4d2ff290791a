"""The first check of synth: every object against its schema (Kubernetes' for the environment's version,
then CRD schemas: the platform's ``crd_schemas`` folders, then the ones mlkube carries), then the
cross-object rules, per environment (objects deployed together)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import MlkubeError, Problem
from .cross_object import check_cross_object
from .schemas import SchemaCatalog, ValidationSettings

if TYPE_CHECKING:
    from ..core.synth import SynthContext

__all__ = ["validate_objects", "SchemaMemo", "MISSING_SCHEMA_HINT"]

#: What synth says about a custom resource with no schema (a `cdk8s import` class, a raw ApiObject).
MISSING_SCHEMA_HINT = ("give the platform its CRD's JSON schemas: Platform(crd_schemas=['DIR']), a folder that "
                       "`mlkube schemas import CRD.yaml --out DIR` writes ({group}/{kind}_{version}.json)")


class SchemaMemo:
    """Schema issues already found, by Kubernetes version and object: a caller that synthesizes the same
    platform many times with few changes (mlkube chart's probes) validates each distinct object once.
    Schema validation depends only on the object and the version's catalog (the settings below, with the platform's
    CRD schema folders): one memo serves builds of one platform (``checked_context(..., memo=)``)."""

    def __init__(self) -> None:
        self.catalogs: dict[str, SchemaCatalog] = {}
        self._issues: dict[tuple[str, str], list[Any]] = {}

    def issues(self, version: str, catalog: SchemaCatalog, obj: dict[str, Any]) -> list[Any]:
        key = (version, json.dumps(obj, sort_keys=True, default=str))
        if key not in self._issues:
            self._issues[key] = list(catalog.validate(obj))
        return self._issues[key]


def validate_objects(ctx: SynthContext) -> None:
    """The CHECKS step: schema-validate every object, then run cross-object checks per environment."""
    memo: SchemaMemo | None = ctx.schema_memo
    catalogs: dict[str, SchemaCatalog] = memo.catalogs if memo is not None else {}
    versions = {env.name: env.kubernetes_version for env in ctx.platform.environments}
    by_environment = ctx.manifests_by_environment()
    for environment, manifests in by_environment.items():
        version = versions.get(environment, "")
        try:
            catalog = catalogs.get(version) or catalogs.setdefault(version, SchemaCatalog(ValidationSettings(
                kubernetes_version=version, crd_schema_dirs=ctx.platform.crd_schemas, strict_unknown_kinds=True,
                missing_schema_hint=MISSING_SCHEMA_HINT)))
        except MlkubeError as error:
            ctx.problems += [Problem(f"environment {environment}", "kubernetes_version", p.message, p.hint) for p in error.problems]
            continue
        cache = ctx.platform.pipeline.cache
        for manifest in manifests:
            # The cache skips an object whose same input this catalog found valid before (mlkube.incremental).
            issues = (memo.issues(version, catalog, manifest.obj) if memo is not None
                      else cache.schema_issues(ctx, manifest, catalog) if cache is not None else catalog.validate(manifest.obj))
            for issue in issues:
                ctx.problems.append(Problem(manifest.where, issue.field, f"{manifest.describe()}: {issue.message}"))
        # The cache checks again only the namespaces whose objects changed (mlkube.incremental).
        ctx.problems += cache.cross_object_problems(ctx, manifests) if cache is not None else check_cross_object(manifests)
