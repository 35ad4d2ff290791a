"""`mlkube validate --connectivity`: the matrix of a folder of hand-written manifests and of dist/."""

from __future__ import annotations

import textwrap

from helpers import REPO_ROOT, run_mlkube

from mlkube.kube.loader import load_manifests
from mlkube.traffic.matrix import connectivity_matrix

HAND_WRITTEN = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {team: payments}
---
apiVersion: v1
kind: Namespace
metadata:
  name: models
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: models}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1
          ports: [{name: http, containerPort: 8080}, {name: admin, containerPort: 9000}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: shop}
spec:
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers: [{name: checkout, image: ghcr.io/acme/checkout:1}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: models}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [payments]}]}}]
      ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  egress:
    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: models}}, podSelector: {matchLabels: {app: api}}}]
      ports: [{port: 8080, protocol: TCP}]
"""


def row(text: str, source: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(source + " "))
    return line[len(source):].split()


def column(text: str, destination: str) -> int:
    header = next(line for line in text.splitlines() if line.strip().endswith(destination) and line.strip().startswith("["))
    return int(header.strip().split("]")[0][1:]) - 1


def test_matrix_of_hand_written_manifests_uses_namespace_labels_and_named_ports(tmp_path):
    (tmp_path / "cluster.yaml").write_text(HAND_WRITTEN)
    text = connectivity_matrix(load_manifests([tmp_path])).render()
    api = column(text, "models/Deployment/api")
    checkout = row(text, "shop/Deployment/checkout")
    # shop carries team=payments (its Namespace object): checkout reaches the api's named port http only.
    assert checkout[api] == "8080"
    assert row(text, "models/(any other pod)")[api] == "-"
    # The shop default-deny admits egress to the api alone: not DNS, not the internet.
    assert checkout[column(text, "kube-system/kube-dns")] == "-"
    assert checkout[column(text, "(internet 203.0.113.7)")] == "-"
    # The api's egress is not restricted (no Egress policy selects it).
    assert row(text, "models/Deployment/api")[column(text, "(internet 203.0.113.7)")] == "open"


def test_validate_connectivity_prints_the_matrix_of_an_environment_folder():
    result = run_mlkube("validate", "--connectivity", str(REPO_ROOT / "dist" / "dev"))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    rank = row(text, "ml-llm-chat/Job/llm-finetune")
    assert rank[column(text, "ml-llm-chat/Job/llm-finetune")] == "all"          # every rank to every rank
    assert rank[column(text, "ml-llm-chat/Deployment/llm-server")] == "8000"    # a same-namespace client
    assert row(text, "monitoring/(any pod)")[column(text, "ml-llm-chat/Deployment/llm-server")] == "8000,9400"  # metrics, dcgm-exporter
    assert row(text, "(a pod of another namespace)")[column(text, "ml-llm-chat/Deployment/llm-server")] == "-"


def test_validate_connectivity_of_bad_yaml_is_a_clear_error(tmp_path):
    (tmp_path / "bad.yaml").write_text(textwrap.dedent("""\
        kind: NetworkPolicy
        spec: [unclosed
        """))
    result = run_mlkube("validate", "--connectivity", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "bad.yaml" in result.stderr and "not valid YAML" in result.stderr


def test_validate_connectivity_of_an_invalid_policy_reports_it_without_a_matrix(tmp_path):
    (tmp_path / "policy.yaml").write_text(textwrap.dedent("""\
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: broken, namespace: models}
        spec:
          podSelector: {}
          ingress: "everyone"
        """))
    result = run_mlkube("validate", "--connectivity", str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "policy.yaml:6" in result.stderr and "spec.ingress" in result.stderr
    assert "FROM \\ TO" not in result.stdout


def test_each_environment_of_a_config_repo_is_its_own_cluster():
    result = run_mlkube("validate", "--connectivity", str(REPO_ROOT / "dist"))
    assert result.returncode == 0, result.stderr
    headings = [line for line in result.stdout.splitlines() if line.startswith("== cluster")]
    assert [h.rsplit("/", 1)[-1] for h in headings] == ["dev ==", "prod ==", "staging =="]
