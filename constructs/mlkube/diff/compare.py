"""Match the objects of two sides and build the report: statuses, field rows, other paths, risks.

``diff_specs`` parses only what can matter: files whose content differs between the sides (or whose
path does), and, in a namespace where pod labels, a Service, a PodDisruptionBudget or a NetworkPolicy
changed, the unchanged files of that namespace too, since those rules look at the neighbours.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path

from .fields import field_changes, fields_of
from .model import DiffReport, ObjectChange, changed_paths
from .risks import DEFAULT_PRODUCTION, RiskContext, claims_by_environment, namespaces_of, object_risks, pod_labels, pods_by_namespace, selector_risks
from .sources import Located, ParseCache, Side, Tree, layout_parts, load_objects, read_tree

__all__ = ["compare_sides", "diff_specs", "neighbour_scope", "Scope"]

_SELECTING_KINDS = ("Service", "PodDisruptionBudget", "NetworkPolicy")
#: (environment, namespace)
Scope = tuple[str, str]


def _covered(path: str, covered: Iterable[str]) -> bool:
    return any(path == prefix or path.startswith((prefix + ".", prefix + "[")) for prefix in covered)


def _changed(base: Side, head: Side, before: Located, after: Located) -> ObjectChange:
    old = fields_of(before.obj, partial(base.revision_of, before.environment))
    new = fields_of(after.obj, partial(head.revision_of, after.environment))
    rows = field_changes(old, new)
    # A row accounts for its paths; a field equal by value (cpu 1 -> 1000m) is no change worth listing.
    covered = {path for values in (old, new) for value in values.values() for path in value.paths}
    other = [path for path in changed_paths(before.obj, after.obj) if not _covered(path, covered)]
    return ObjectChange("changed", before, after, rows, other)


def _apps(objects: Iterable[Located]) -> set[tuple[str, str]]:
    return {(located.environment, located.app) for located in objects}


def compare_sides(base: Side, head: Side, production: Iterable[str] = DEFAULT_PRODUCTION,
                  complete: frozenset[Scope] | None = None, removed_apps: frozenset[tuple[str, str]] | None = None) -> DiffReport:
    """Every added, removed and changed object between ``base`` and ``head``, with its risks.

    ``complete`` names the (environment, namespace) scopes whose objects were all read (None: all);
    the Service-selector rule runs only there, since it needs every workload of a namespace.
    """
    changes: dict[tuple[str, ...], ObjectChange] = {}
    for key, before in base.objects.items():
        after = head.objects.get(key)
        if after is None:
            changes[key] = ObjectChange("removed", before, None)
        elif before.obj != after.obj or before.app != after.app:
            changes[key] = _changed(base, head, before, after)
    for key, after in head.objects.items():
        if key not in base.objects:
            changes[key] = ObjectChange("added", None, after)
    if removed_apps is None:  # both sides read whole: an app is removed when no object of its folder is left
        removed_apps = frozenset(_apps(base.objects.values()) - _apps(head.objects.values()))
    context = RiskContext(frozenset(production), pods_by_namespace(head.objects.values()), removed_apps,
                          claims_by_environment(base.objects.values()), claims_by_environment(head.objects.values()),
                          namespaces_of(base.objects.values()), namespaces_of(head.objects.values()))
    for change in changes.values():
        change.risks = object_risks(change, context)
    services = {key: located for key, located in head.objects.items() if complete is None or (key[0], key[3]) in complete}
    for service, risk in selector_risks(base.objects, services, pods_by_namespace(base.objects.values()), context):
        # The Service is what breaks even when only a workload's labels changed: report it there.
        change = changes.setdefault(service.match_key, ObjectChange("unchanged", base.objects.get(service.match_key), service))
        change.risks = sorted({*change.risks, risk}, key=lambda item: item.sort_key())
    ordered = sorted(changes.values(), key=ObjectChange.sort_key)
    return DiffReport(base.label, head.label, ordered, frozenset(production), base.notes + head.notes, list(head.builds))


def neighbour_scope(before: Located | None, after: Located | None) -> Scope | None:
    """The (environment, namespace) whose other objects a change's risks depend on, if any: a change
    of pod labels, of a Service, PodDisruptionBudget or NetworkPolicy spec, or a removal of one."""
    if before is None:
        return None  # an added object only adds pods or selectors; no rule flags that
    kind = str(before.obj.get("kind"))
    if kind in _SELECTING_KINDS:
        relevant = after is None or before.obj.get("spec") != after.obj.get("spec")
    else:
        labels = pod_labels(before.obj)
        relevant = labels is not None and (after is None or labels != pod_labels(after.obj))
    return (before.match_key[0], before.match_key[3]) if relevant else None


def _mentioning(tree: Tree, paths: list[str], scopes: set[Scope]) -> list[str]:
    """The files among ``paths`` that may hold an object of ``scopes``: those in a scope's environment
    whose bytes contain the namespace's name (a namespace that YAML spells with escape sequences is
    not supported; an empty namespace takes every file of the environment)."""
    wanted: dict[str, set[bytes]] = {}
    for environment, namespace in scopes:
        wanted.setdefault(environment, set()).add(namespace.encode())
    candidates = [path for path in paths if path.split("/")[0] in wanted]
    return [path for path, data in zip(candidates, tree.fetch(candidates), strict=True)
            if any(word in data for word in wanted[path.split("/")[0]])]


def _side(tree: Tree) -> Side:
    return Side(tree.label, revisions=tree.revisions, notes=list(tree.notes), builds=list(tree.builds))


def diff_specs(base: str, head: str, repo: Path = Path("."), production: Iterable[str] = DEFAULT_PRODUCTION) -> DiffReport:
    """Read both sides (folders or git revisions of ``repo``) and compare them."""
    base_tree, head_tree = read_tree(base, repo, role="BASE"), read_tree(head, repo, role="HEAD")
    cache: ParseCache = {}
    same = {path for path, blob in base_tree.files.items() if head_tree.files.get(path) == blob}
    base_side, head_side = _side(base_tree), _side(head_tree)
    load_objects(base_tree, sorted(set(base_tree.files) - same), base_side, cache)
    load_objects(head_tree, sorted(set(head_tree.files) - same), head_side, cache)
    scopes = {scope for key in set(base_side.objects) | set(head_side.objects)
              if (scope := neighbour_scope(base_side.objects.get(key), head_side.objects.get(key)))}
    neighbours = _mentioning(head_tree, sorted(same), scopes) if scopes else []
    load_objects(base_tree, neighbours, base_side, cache)
    load_objects(head_tree, neighbours, head_side, cache)
    # An app is removed when the head has no file left in its folder (unchanged files are not parsed).
    folders = {side: {parts for path in tree.files if (parts := layout_parts(path))} for side, tree in (("base", base_tree), ("head", head_tree))}
    return compare_sides(base_side, head_side, production, frozenset(scopes), frozenset(folders["base"] - folders["head"]))
