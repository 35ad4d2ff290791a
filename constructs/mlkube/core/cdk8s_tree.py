"""What plain cdk8s put in a Platform's construct tree: its charts, its ApiObjects, its validations.

cdk8s semantics (``App.synth``, cdk8s-core src/app.ts): every Chart of the App is synthesized, each
ApiObject in its closest chart, after every construct's ``node.add_validation`` passed. A Platform writes
``<environment>/<app>/`` folders, so a chart is placed in the folder of the app (``MlApp``) that contains
it, at any depth; a chart outside every app has no environment or app, and is reported (where it is, and
how to move it into an app) rather than dropped. Objects keep the namespace cdk8s gives them: the
closest chart's namespace (an app's namespace for objects created directly in the app).

Cost: one Node call lists the tree, one runs cdk8s's validation of the whole tree (inside the first
``Chart.toJson``), one synthesizes each chart holding ApiObjects, and one finds the chart of each
ApiObject; mlkube's own objects (plain dicts) cost nothing here. The read does not create the
constructs still waiting to be created in Node (core/lazy_node.py): they have no Node-side children,
validations or dependencies, so the tree read is the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cdk8s

from constructs import IConstruct

from ..errors import Problem
from ..kube.manifest import Manifest
from .escape_hatch import first_line
from .lazy_node import reading_without_materializing

if TYPE_CHECKING:
    from .platform import MlApp, Platform

__all__ = ["Cdk8sTree", "read_cdk8s_tree"]


@dataclass
class Cdk8sTree:
    """The objects of plain cdk8s constructs, per app (``id(MlApp)``), and what is wrong with the tree."""

    objects: dict[int, list[Manifest]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def read_cdk8s_tree(platform: Platform) -> Cdk8sTree:
    """Synthesize every chart of the platform's tree into its app, and run every cdk8s validation."""
    with reading_without_materializing():
        return _read(platform)


def _read(platform: Platform) -> Cdk8sTree:
    if not platform.created_in_node:
        # The App itself waits to be created (core/lazy_node.py): Node holds no construct of this tree, no
        # validation and no object; what waits has none either. The read is empty, without asking Node.
        return Cdk8sTree()
    apps = {id(app): app for app in platform.apps}  # the platform's MlApps, by identity (platform.py imports synth, not back)
    tree = Cdk8sTree()
    nodes: list[IConstruct] = list(platform.node.find_all())  # the whole tree in one Node call
    charts = [node for node in nodes if isinstance(node, cdk8s.Chart)]
    owners = {id(chart): owner for chart in charts if (owner := _owner_app(chart, apps, tree.problems)) is not None}
    holding = _charts_holding_objects(nodes)
    # cdk8s validates the whole tree inside each Chart.toJson: synthesize the charts with objects (the first
    # call validates), or validate through any chart when none holds an object.
    to_synthesize = [chart for chart in charts if id(chart) in holding and id(chart) in owners] or charts[:1]
    for chart in to_synthesize:
        try:
            objects = list(cdk8s.Chart.to_json(chart))
        except RuntimeError as error:  # jsii raises RuntimeError with the JavaScript error's text
            validation = list(_validation_problems(nodes))
            tree.problems += validation or [Problem(_path(chart), "", f"cdk8s could not synthesize the chart: {first_line(error)}")]
            if validation:
                break  # every other chart fails the same validation
            continue
        owner = owners.get(id(chart))
        if owner is not None and objects:
            where = owner.construct_path if chart is owner else _path(chart)
            tree.objects.setdefault(id(owner), []).extend(
                Manifest(obj, f"{where}/{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}",
                         owner.environment.name, owner.app_name) for obj in objects)
    if not charts:
        tree.problems += _validation_problems(nodes)
    return tree


def _owner_app(chart: cdk8s.Chart, apps: dict[int, MlApp], problems: list[Problem]) -> MlApp | None:
    """The app whose folder receives the chart's objects: the chart itself, or the closest app around it."""
    if id(chart) in apps:
        return apps[id(chart)]
    scopes: Sequence[IConstruct] = chart.node.scopes
    owner = next((apps[id(scope)] for scope in reversed(scopes) if id(scope) in apps), None)
    if owner is None:
        path = _path(chart)
        problems.append(Problem(path, "", f"cdk8s Chart {chart.node.id!r} is outside every app of the platform, so it has no "
                                "<environment>/<app>/ folder; its objects would be lost",
                                "create it inside an app, with the app (or a construct in it) as its scope, in the function given "
                                f"to platform.app(...): {type(chart).__name__}(app, {chart.node.id!r}); its objects then go to "
                                "that app's folder in every environment"))
    return owner


def _charts_holding_objects(nodes: Sequence[IConstruct]) -> set[int]:
    """``id`` of each chart that is the closest chart of an ApiObject (cdk8s refuses an ApiObject outside every chart)."""
    return {id(cdk8s.Chart.of(node)) for node in nodes if isinstance(node, cdk8s.ApiObject)}


def _validation_problems(nodes: Sequence[IConstruct]) -> Iterator[Problem]:
    """Every error of every construct's ``node.add_validation``, at the construct's path (what cdk8s's validate does)."""
    for node in nodes:
        try:
            errors: Sequence[str] = node.node.validate()
        except RuntimeError as failure:
            yield Problem(_path(node), "", f"a validation of this construct failed to run: {first_line(failure)}")
            continue
        for message in errors:
            yield Problem(_path(node), "", str(message), "reported by the construct's node.add_validation(...)")


def _path(node: Any) -> str:
    return getattr(node, "construct_path", None) or node.node.path or "(platform)"
