"""The per-object checks as they were before issue 22's checks-speed work (commit 74cbc2d), kept verbatim as the
reference that tests/test_fast_checks.py compares today's checks with: same findings, same order, same messages.

Only what changed is here; what did not (the other policy rules, Finding, Problem, the data classes) is imported.
"""
# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlkube.core.model import ModelReference
from mlkube.core.network.model import Connection, Endpoint
from mlkube.core.image import match_reference
from mlkube.core.waivers import waived_rules
from mlkube.credential_patterns import find_credentials, has_format_marker, may_hold_credential, may_hold_credentials, random_under_secret_name
from mlkube.errors import Problem
from mlkube.kube.apiserver_rules import CRONJOB_NAME_MAX, INT32_MAX, INT64_MAX, config_key_problem, env_name_problem, sub_path_problem
from mlkube.kube.manifest import Manifest
from mlkube.kube.network_policy import NAMESPACE_NAME_LABEL, Block, Direction, External, Pod, Policy, Verdict
from mlkube.kube.network_policy import Endpoint as Concrete
from mlkube.kube.selectors import selects
from mlkube.pinning.fields import NOT_IMAGE_KINDS, ImageField
from mlkube.pinning.models import DOWNLOADER, KSERVE_S3_HINT, ModelField
from mlkube.pinning.synth_steps import ALLOW_UNPINNED_ENV
from mlkube.policy.engine import Finding, PolicyReport, _finding, all_rules
from mlkube.policy.model import Hit, PolicySettings, Rule
from mlkube.policy.pods import PodView, containers, pod_views
from mlkube.traffic.check import PROBE_PORTS
from mlkube.traffic.cluster import TrafficView
from mlkube.kube.quantity import check_quantity_value
from mlkube.validation.apiserver import int32_fields
from mlkube.validation.quantities import QuantityTree

Target = Any


# --- policy/credentials.py: rule MLK-SEC-009 ---

def _path(chain: tuple[Any, ...] | None) -> str:
    """``spec.containers[0].env`` from the linked (parent, key) chain of ``_candidates``."""
    parts: list[str] = []
    while chain is not None:
        chain, key = chain
        parts.append(f"[{key}]" if type(key) is int else (f".{key}" if chain is not None else str(key)))
    return "".join(reversed(parts))


def _candidates(value: Any, chain: tuple[Any, ...] | None, name: str, parents: set[int],
                found: list[tuple[str, str, str]], test: Callable[[str, str], bool] = may_hold_credential) -> None:
    """Append (field path, name it is stored under, string) for every string of an object that may hold a
    credential (``may_hold_credential``); the path is written only for those, as almost no string is one.

    ``parents``: the containers above, so that a YAML alias pointing at its own parent ends the walk."""
    if isinstance(value, str):
        if test(value, name):
            found.append((_path(chain), name, value))
    elif isinstance(value, (dict, list)) and id(value) not in parents and len(parents) < 200:
        parents.add(id(value))
        if isinstance(value, dict):
            # An env var or a similar {name, value} pair: the value is stored under the entry's name.
            pair_name = str(value["name"]) if isinstance(value.get("name"), str) and "value" in value else None
            for key, item in value.items():
                _candidates(item, (chain, str(key)), pair_name if pair_name and key == "value" else str(key), parents, found, test)
        else:
            for index, item in enumerate(value):
                _candidates(item, (chain, index), name, parents, found, test)
        parents.discard(id(value))


def credential_values(target: Target) -> Iterator[Hit]:
    test: Callable[[str, str], bool] = may_hold_credential
    try:  # the whole object as text first: most objects have no string a credential could be in
        text = json.dumps(target.obj, ensure_ascii=False)
        if not may_hold_credentials(text):
            return
        if not has_format_marker(text):
            test = random_under_secret_name  # no token format anywhere: only long values under secret-like names
    except (TypeError, ValueError, RecursionError):
        pass  # not JSON data (a YAML alias cycle, a date): every string is tested
    found: list[tuple[str, str, str]] = []
    _candidates(target.obj, None, "", set(), found, test)
    for path, name, value in found:
        if path.startswith(("metadata.annotations.mlkube.dev/waive.", "metadata.annotations.checkov.io/skip")):
            continue  # a waiver's reason is prose about the rule, not a value the workload gets
        for credential in find_credentials(value, name):
            yield Hit(path, f"holds {credential.kind} ({credential.masked})")


# --- policy/model.py: Target; policy/engine.py: check_policy ---

@dataclass
class LegacyTarget:
    """One object under check, with what rules need around it (its pods, its neighbours, the settings)."""

    manifest: Manifest
    settings: PolicySettings
    #: Every object checked together (one cluster): for rules that look across objects.
    neighbours: list[Manifest] = field(default_factory=list)
    #: Shared by every target of one run: indexes over the neighbours, built once (see ``memo``).
    shared: dict[str, Any] = field(default_factory=dict)
    _pods: list[PodView] | None = None

    @property
    def obj(self) -> dict[str, Any]:
        return self.manifest.obj

    @property
    def kind(self) -> str:
        return self.manifest.kind

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """A value computed once per run (e.g. NetworkPolicies by namespace), not once per object."""
        if key not in self.shared:
            self.shared[key] = build()
        return self.shared[key]

    @property
    def pods(self) -> list[PodView]:
        if self._pods is None:
            self._pods = pod_views(self.obj)
        return self._pods

    def containers_of(self, pod: PodView) -> list[Any]:
        """Added: what the rules read now, listed again on every read as the rules did before."""
        return list(containers(pod))


def check_policy(manifests: Sequence[Manifest], settings: PolicySettings | None = None,
                 rules: Iterable[Rule] | None = None) -> PolicyReport:
    """Check objects that live in one cluster (cross-object rules, such as NetworkPolicy coverage,
    look only among them)."""
    settings = settings or PolicySettings()
    chosen = list(rules) if rules is not None else legacy_rules()
    neighbours = list(manifests)
    shared: dict[str, object] = {}
    findings: list[Finding] = []
    for manifest in neighbours:
        target = LegacyTarget(manifest, settings, neighbours, shared)
        waivers = waived_rules(manifest.obj)
        for rule in chosen:
            findings += [_finding(rule, manifest, hit, waivers) for hit in rule.check(target)]
    return PolicyReport(sorted(findings, key=Finding.sort_key), len(neighbours))


# --- validation/apiserver.py ---

def _integers(value: Any, path: str, name: str, parents: frozenset[int] = frozenset()) -> Iterator[tuple[str, str, int]]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield path, name, value
    elif isinstance(value, (dict, list)) and id(value) not in parents and len(parents) < 200:
        inside = parents | {id(value)}  # an object that contains itself (a YAML alias) ends the walk
        if isinstance(value, dict):
            for key, item in value.items():
                yield from _integers(item, f"{path}.{key}" if path else str(key), str(key), inside)
        else:
            for index, item in enumerate(value):
                yield from _integers(item, f"{path}[{index}]", name, inside)


#: Ten digits in a row: only such a number can be outside the int32 range (|n| > 2147483647).
_TEN_DIGITS = re.compile(r"[0-9]{10}")


def _may_overflow(obj: Any) -> bool:
    """False when no integer of ``obj`` can be outside the int32 range (one C call instead of the walk)."""
    try:
        return _TEN_DIGITS.search(json.dumps(obj, ensure_ascii=False)) is not None
    except (TypeError, ValueError, RecursionError):
        return True  # not JSON data (a YAML alias cycle, a date): walked


def _integer_problems(manifest: Manifest) -> Iterator[Problem]:
    if not _may_overflow(manifest.obj):
        return
    int32 = int32_fields()
    for path, name, value in _integers(manifest.obj, "", ""):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            yield Problem(manifest.where, path, f"{manifest.describe()}: {value} does not fit in a 64-bit integer "
                          "(the API server cannot decode it)", "use a smaller number")
        elif name in int32 and not -INT32_MAX - 1 <= value <= INT32_MAX:
            yield Problem(manifest.where, path, f"{manifest.describe()}: {name} {value} is larger than {INT32_MAX} "
                          "(a 32-bit field in the Kubernetes API)", "use a smaller number")


def _key_problems(manifest: Manifest) -> Iterator[Problem]:
    sections = {"ConfigMap": ("data", "binaryData"), "Secret": ("data", "stringData")}.get(manifest.kind, ())
    for section in sections:
        for key in manifest.obj.get(section) or {}:
            problem = config_key_problem(key)
            if problem:
                yield Problem(manifest.where, f"{section}[{key}]", f"{manifest.describe()}: {problem}",
                              "use a file-name-like key, e.g. 'config.yaml' or 'LOG_LEVEL'")


def _container_problems(manifest: Manifest) -> Iterator[Problem]:
    for pod in pod_views(manifest.obj):
        for view in containers(pod):
            container = view.container
            for index, env in enumerate(container.get("env") or []):
                problem = env_name_problem(env.get("name") if isinstance(env, dict) else None)
                if problem:
                    yield Problem(manifest.where, f"{view.path}.env[{index}].name", f"{manifest.describe()}: {problem}")
            for index, mount in enumerate(container.get("volumeMounts") or []):
                sub_path = mount.get("subPath") if isinstance(mount, dict) else None
                problem = sub_path_problem(sub_path) if sub_path else None
                if problem:
                    yield Problem(manifest.where, f"{view.path}.volumeMounts[{index}].subPath", f"{manifest.describe()}: {problem}")
            image = container.get("image")
            # pkg/apis/core/validation: an image must not have leading or trailing whitespace; the kubelet then
            # parses it with distribution/reference (an unparsable one fails as InvalidImageName).
            if isinstance(image, str) and image and not match_reference(image):
                yield Problem(manifest.where, f"{view.path}.image", f"{manifest.describe()}: image {image!r} is not a valid "
                              "reference (the kubelet would fail it with InvalidImageName)",
                              "write [registry/]repository[:tag][@sha256:digest], repository in lower case")


def apiserver_problems(manifest: Manifest) -> list[Problem]:
    """Everything in one object that the API server or the kubelet would refuse."""
    problems = [*_integer_problems(manifest), *_key_problems(manifest), *_container_problems(manifest)]
    if manifest.kind == "CronJob" and len(manifest.name) > CRONJOB_NAME_MAX:
        problems.append(Problem(manifest.where, "metadata.name", f"{manifest.describe()}: a CronJob name has at most "
                                f"{CRONJOB_NAME_MAX} characters (got {len(manifest.name)}): its Jobs add an 11-character suffix",
                                "give the construct a shorter id or name"))
    return problems


# --- pinning/fields.py: mappings, image_fields; pinning/models.py: model_fields, require_pinned_models ---

def mappings(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping inside ``node`` with its field path (``spec.containers[0]``), outermost first."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from mappings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict | list):
                yield from mappings(value, f"{path}[{index}]")


def image_fields(obj: dict[str, Any]) -> Iterator[ImageField]:
    if obj.get("kind") in NOT_IMAGE_KINDS:
        return
    yield from _image_walk(obj, "")


def _image_walk(node: Any, path: str) -> Iterator[ImageField]:
    for where, mapping in mappings(node, path):
        image = mapping.get("image")
        if isinstance(image, str):
            name = mapping.get("name")
            yield ImageField(f"{where}.image" if where else "image", name if isinstance(name, str) else "", mapping)


def model_fields(obj: dict[str, Any]) -> Iterator[ModelField]:
    """KServe predictors' ``storageUri`` and the first argument of mlkube's model-downloader init containers."""
    yield from _walk(obj, "")


def _walk(node: Any, path: str) -> Iterator[ModelField]:
    for where, mapping in mappings(node, path):
        if isinstance(mapping.get("storageUri"), str) and not mapping["storageUri"].startswith("pvc://"):
            yield ModelField(f"{where}.storageUri".lstrip("."), mapping, "storageUri")
        args = mapping.get("args")
        if mapping.get("name") == DOWNLOADER and isinstance(args, list) and args and isinstance(args[0], str):
            yield ModelField(f"{where}.args[0]".lstrip("."), args, 0)


def require_pinned_models(ctx: SynthContext) -> None:
    """CHECK: production (and require_pinned_images) environments serve only immutable model references."""
    required = {env.name for env in ctx.platform.environments if env.require_pinned_images or env.production}
    allowed = os.environ.get(ALLOW_UNPINNED_ENV) == "1"
    for manifest in ctx.manifests:
        for found in model_fields(manifest.obj):
            ref = ModelReference(found.value)
            if not found.honours_pins:
                if ref.versioned:
                    ctx.problems.append(Problem(manifest.where, found.path, f"{manifest.describe()}: KServe would ignore the versions of "
                                                f"{found.value[:120]!r} and serve the objects the prefix holds when the pod starts",
                                                KSERVE_S3_HINT))
                elif manifest.environment in required:
                    ctx.warnings.append(f"{manifest.where}: {manifest.describe()}: model {found.value!r} can change after review; {KSERVE_S3_HINT}")
                continue
            if ref.immutable or manifest.environment not in required:
                continue
            text = (f"{manifest.describe()}: model {found.value!r} can change after review, "
                    f"and environment {manifest.environment!r} requires pinned models")
            if not ref.pinnable:
                # No immutable form the default downloader honours: say so on every synth, do not block.
                ctx.warnings.append(f"{manifest.where}: {text}; {ref.pin_hint()}")
            elif allowed:
                ctx.warnings.append(f"{manifest.where}: {text} ({ALLOW_UNPINNED_ENV}=1)")
            else:
                ctx.problems.append(Problem(manifest.where, found.path, text, ref.pin_hint()))


# --- kube/network_policy.py: Cluster; traffic/check.py: connection_problems ---

class LegacyCluster:
    """The policies and namespace labels of one cluster; answers reachability questions."""

    def __init__(self, policies: Iterable[Policy], namespace_labels: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.policies = list(policies)
        self._namespace_labels = {name: dict(labels) for name, labels in (namespace_labels or {}).items()}
        self._by_namespace: dict[str, list[Policy]] = {}
        self._isolating: dict[tuple[Pod, str], list[Policy]] = {}
        for policy in self.policies:
            self._by_namespace.setdefault(policy.namespace, []).append(policy)

    @property
    def namespaces(self) -> list[str]:
        """Namespaces whose labels were given (from Namespace objects)."""
        return sorted(self._namespace_labels)

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        return {**self._namespace_labels.get(namespace, {}), NAMESPACE_NAME_LABEL: namespace}

    def isolating(self, pod: Pod, direction: Direction) -> list[Policy]:
        """The policies that select ``pod`` for ``direction`` (empty: the pod is not isolated)."""
        key = (pod, direction)
        found = self._isolating.get(key)
        if found is None:
            found = self._isolating[key] = [p for p in self._by_namespace.get(pod.namespace, [])
                                            if direction in p.types and selects(p.spec.get("podSelector") or {}, dict(pod.labels))]
        return found

    def check(self, source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> Verdict:
        """Whether ``source`` may open a connection to ``destination`` on ``port``/``protocol``."""
        blocks: list[Block] = []
        if isinstance(source, Pod):
            block = self._direction(source, "Egress", peer=destination, destination=destination, port=port, protocol=protocol)
            if block:
                blocks.append(block)
        if isinstance(destination, Pod):
            block = self._direction(destination, "Ingress", peer=source, destination=destination, port=port, protocol=protocol)
            if block:
                blocks.append(block)
        return Verdict(not blocks, tuple(blocks))

    # -- one direction ------------------------------------------------------------------------------

    def _direction(self, pod: Pod, direction: Direction, *, peer: Endpoint, destination: Endpoint, port: int, protocol: str) -> Block | None:
        policies = self.isolating(pod, direction)
        if not policies:
            return None
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for policy in policies:
            for rule in policy.spec.get(key) or []:
                rule = rule or {}
                if self._peers_match(rule.get(peers_key), peer, policy.namespace) and \
                        _ports_match(rule.get("ports"), destination, port, protocol):
                    return None
        return Block(direction, pod, tuple(policies))

    def _peers_match(self, peers: list[dict[str, Any]] | None, endpoint: Endpoint, policy_namespace: str) -> bool:
        if not peers:
            return True  # "If this field is empty or missing, this rule matches all sources/destinations"
        return any(self._peer_matches(peer or {}, endpoint, policy_namespace) for peer in peers)

    def _peer_matches(self, peer: Mapping[str, Any], endpoint: Endpoint, policy_namespace: str) -> bool:
        block = peer.get("ipBlock")
        if block is not None:
            return isinstance(endpoint, External) and _in_block(endpoint.ip, block)
        if not isinstance(endpoint, Pod):
            return False
        pod_selector, namespace_selector = peer.get("podSelector"), peer.get("namespaceSelector")
        if pod_selector is None and namespace_selector is None:
            return False  # the API server refuses an empty peer
        if namespace_selector is None:
            in_namespace = endpoint.namespace == policy_namespace
        else:
            in_namespace = selects(namespace_selector, self.namespace_labels(endpoint.namespace))
        return in_namespace and (pod_selector is None or selects(pod_selector, dict(endpoint.labels)))


def _in_block(ip: str, block: Mapping[str, Any]) -> bool:
    address = ipaddress.ip_address(ip)
    try:
        network = ipaddress.ip_network(str(block.get("cidr")), strict=False)
    except ValueError:
        return False
    if address.version != network.version or address not in network:
        return False
    for excluded in block.get("except") or []:
        try:
            if address in ipaddress.ip_network(str(excluded), strict=False):
                return False
        except ValueError:
            continue
    return True


def _ports_match(ports: list[dict[str, Any]] | None, destination: Endpoint, port: int, protocol: str) -> bool:
    if not ports:
        return True  # "If this field is empty or missing, this rule matches all ports"
    return any(_port_matches(item or {}, destination, port, protocol) for item in ports)


def _port_matches(item: Mapping[str, Any], destination: Endpoint, port: int, protocol: str) -> bool:
    if str(item.get("protocol") or "TCP") != protocol:
        return False
    wanted = item.get("port")
    if wanted is None:
        return True  # "If this field is not provided, this matches all port names and numbers"
    if isinstance(wanted, str) and not wanted.isdigit():
        # A named port is resolved on the destination pod's containers, with the same protocol.
        return isinstance(destination, Pod) and any(name == wanted and number == port and proto == protocol
                                                     for name, number, proto in destination.ports)
    low = int(wanted)
    high = item.get("endPort")
    return low <= port <= int(high) if high is not None else port == low


def _address_in(endpoint: Endpoint) -> External:
    """An address inside the block and outside its exceptions (the first such among a few candidates)."""
    network = ipaddress.ip_network(str(endpoint.cidr), strict=False)
    excluded = [ipaddress.ip_network(e, strict=False) for e in endpoint.except_cidrs]
    size = network.num_addresses
    for offset in (min(1, size - 1), size // 2, size - 1, 0):
        address = network[offset]
        if not any(address in block for block in excluded):
            return External(str(address), endpoint.describe())
    return External(str(network[0]), endpoint.describe())


def concrete(endpoint: Endpoint, view: TrafficView) -> list[Concrete]:
    """The rendered pods the endpoint contains, and a stand-in with exactly its labels."""
    if endpoint.cidr is not None:
        return [_address_in(endpoint)]
    standin = Pod(str(endpoint.namespace), endpoint.labels, endpoint.describe())
    members: list[Concrete] = [standin]
    members += [pod for pod in view.by_namespace.get(str(endpoint.namespace), []) if endpoint.contains(pod) and dict(pod.labels) != endpoint.labels]
    return members


def _ports(connection: Connection) -> Iterator[tuple[int, str]]:
    for port in connection.ports:
        for number in ([port.port] if port.port is not None else PROBE_PORTS):
            yield number, port.protocol


def _unmanaged(endpoint: Concrete, managed: set[str]) -> bool:
    return not isinstance(endpoint, Pod) or endpoint.namespace not in managed


def connection_problems(connections: Iterable[Connection], view: TrafficView, managed: set[str]) -> list[Problem]:
    """A problem for each declared connection some direction denies, naming the policies that deny it."""
    problems: list[Problem] = []
    for connection in connections:
        blocked: list[str] = []
        for source in concrete(connection.source, view):
            for destination in concrete(connection.destination, view):
                for port, protocol in _ports(connection):
                    verdict = view.cluster.check(source, destination, port, protocol)
                    for block in verdict.blocks:
                        if _unmanaged(block.endpoint, managed):
                            continue  # the other team's (or the platform's) policies are not ours to open
                        text = f"{port}/{protocol}: {block.describe()}"
                        if text not in blocked:
                            blocked.append(text)
        if blocked:
            problems.append(Problem(connection.declared_by, "connections", f"declared connection {connection.describe()} is blocked: "
                                    + "; ".join(blocked[:4]) + (f" (and {len(blocked) - 4} more)" if len(blocked) > 4 else ""),
                                    "an object edited after the construct built it (or a foreign NetworkPolicy) must keep admitting it; "
                                    "mlkube validate --connectivity prints who reaches whom"))
    return problems




# --- validation/quantities.py ---

def quantity_issues(obj: Any, tree: QuantityTree, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, message) for every quantity field of ``obj`` that the API server would refuse."""
    if tree.quantity and isinstance(obj, str | int | float) and not isinstance(obj, bool):
        message = check_quantity_value(obj)
        if message:
            yield path, message
        return
    if isinstance(obj, dict):
        for name, child in tree.properties.items():
            if name in obj:
                yield from quantity_issues(obj[name], child, f"{path}.{name}" if path else name)
        if tree.values is not None:
            for name, value in obj.items():
                if name not in tree.properties:
                    yield from quantity_issues(value, tree.values, f"{path}.{name}" if path else str(name))
    elif isinstance(obj, list) and tree.items is not None:
        for index, item in enumerate(obj):
            yield from quantity_issues(item, tree.items, f"{path}[{index}]")


def legacy_rules() -> list[Rule]:
    """Every rule, with MLK-SEC-009 as it was."""
    return [dataclasses.replace(rule, check=credential_values) if rule.id == "MLK-SEC-009" else rule for rule in all_rules()]


def legacy_connection_problems(connections: Iterable[Connection], view: TrafficView, managed: set[str]) -> list[Problem]:
    """``connection_problems`` as it was, on the old evaluator built from the same policies and namespaces."""
    old = TrafficView(LegacyCluster(view.cluster.policies, view.cluster._namespace_labels), view.pods, view.listening)
    return connection_problems(connections, old, managed)
