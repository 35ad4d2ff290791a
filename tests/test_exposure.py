"""InferenceService exposure: a Gateway API HTTPRoute (preferred) or an Ingress with TLS, the forwarders admitted
to the serving port, hostnames overridable per environment."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from mlkube import Environment, InferenceService, MlkubeError
from mlkube.cli import main
from mlkube.core.gitops_settings import WorkloadOverride
from mlkube.testing import YamlSnapshotExtension, synth_app

IMAGE = "ghcr.io/acme/fraud:1.4.2"
GATEWAY = {"gateway": {"name": "public", "namespace": "gateway-system", "section_name": "https"}}
INGRESS = {"ingress_class": "nginx", "proxy_namespace": "ingress-nginx", "cert_manager_issuer": "letsencrypt-prod"}


@pytest.fixture
def yaml_snapshot(snapshot):
    return snapshot.use_extension(YamlSnapshotExtension)


@pytest.fixture(scope="module")
def upstream_http_route(shared_dir: Path, tmp_path_factory) -> jsonschema.Draft202012Validator:
    """The HTTPRoute v1 schema converted from the upstream Gateway API CRD in ../shared (not the carried copy)."""
    crd = shared_dir / "crds" / "gateway-api" / "gateway.networking.k8s.io_httproutes.yaml"
    if not crd.is_file():
        pytest.skip(f"{crd} is absent")
    out = tmp_path_factory.mktemp("gateway-api")
    result = CliRunner().invoke(main, ["schemas", "import", str(crd), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return jsonschema.Draft202012Validator(json.loads((out / "gateway.networking.k8s.io" / "httproute_v1.json").read_text()))


def gateway_server(app):
    InferenceService(app, "fraud", image=IMAGE, port=8080, hostnames=["fraud.models.example.com"], expose=dict(GATEWAY, path="/v1"))


def ingress_server(app):
    InferenceService(app, "fraud", image=IMAGE, port=8080, hostnames=["fraud.models.example.com"], expose=INGRESS)


def _errors(validator, obj) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


def test_http_route_attaches_to_the_gateway_and_targets_the_service_port(upstream_http_route):
    objects = synth_app(gateway_server)
    route = objects.get("HTTPRoute", "fraud")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"] == {
        "hostnames": ["fraud.models.example.com"],
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": "gateway-system",
                        "sectionName": "https"}],
        "rules": [{"backendRefs": [{"name": "fraud", "port": 8080}], "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}]}]}
    service_ports = [p["port"] for p in objects.get("Service", "fraud")["spec"]["ports"]]
    assert route["spec"]["rules"][0]["backendRefs"][0]["port"] in service_ports
    assert _errors(upstream_http_route, route) == []


def test_the_upstream_schema_would_catch_a_broken_route(upstream_http_route):
    route = synth_app(gateway_server).get("HTTPRoute", "fraud")
    route["spec"]["parentRefs"][0]["nmae"] = route["spec"]["parentRefs"][0].pop("name")
    assert _errors(upstream_http_route, route)  # the judge is real: it rejects a misspelled field


def test_the_gateway_namespace_is_admitted_to_the_serving_port():
    policy = synth_app(gateway_server).get("NetworkPolicy", "fraud")
    admitted = [rule for rule in policy["spec"]["ingress"]
                if rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway-system"}}, "podSelector": {}}]]
    assert admitted == [{"from": admitted[0]["from"], "ports": [{"port": 8080, "protocol": "TCP"}]}]


def test_ingress_with_cert_manager_tls():
    objects = synth_app(ingress_server)  # synth validates the Ingress against the Kubernetes strict schema
    ingress = objects.get("Ingress", "fraud")
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-prod"}
    assert ingress["spec"] == {
        "ingressClassName": "nginx",
        "rules": [{"host": "fraud.models.example.com", "http": {"paths": [
            {"backend": {"service": {"name": "fraud", "port": {"name": "http"}}}, "path": "/", "pathType": "Prefix"}]}}],
        "tls": [{"hosts": ["fraud.models.example.com"], "secretName": "fraud-tls"}]}
    froms = [rule["from"][0]["namespaceSelector"]["matchLabels"] for rule in objects.get("NetworkPolicy", "fraud")["spec"]["ingress"]
             if "namespaceSelector" in rule["from"][0]]
    assert {"kubernetes.io/metadata.name": "ingress-nginx"} in froms


def test_ingress_with_a_named_tls_secret_and_no_issuer():
    objects = synth_app(lambda app: InferenceService(app, "fraud", image=IMAGE, hostnames=["a.example.com"], expose={
        "ingress_class": "nginx", "proxy_namespace": "ingress-nginx", "tls_secret": "wildcard-cert"}))
    ingress = objects.get("Ingress", "fraud")
    assert "annotations" not in ingress["metadata"]
    assert ingress["spec"]["tls"] == [{"hosts": ["a.example.com"], "secretName": "wildcard-cert"}]


def test_exposure_snapshot(yaml_snapshot):
    objects = synth_app(lambda app: (gateway_server(app), InferenceService(app, "other", image=IMAGE, hostnames=["o.example.com"], expose=INGRESS)))
    assert [o for o in objects if o["kind"] in ("HTTPRoute", "Ingress", "NetworkPolicy")] == yaml_snapshot


def test_an_environment_overrides_the_hostnames():
    env = [Environment(name="prod", namespace="ml", overrides={"app/fraud": WorkloadOverride(hostnames=["fraud.example.com"])})]
    route = synth_app(gateway_server, environments=env).get("HTTPRoute", "fraud")
    assert route["spec"]["hostnames"] == ["fraud.example.com"]


def _error(build, environments=None) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(build, **({"environments": environments} if environments else {}))
    return str(caught.value)


def test_fails_when_the_environment_has_no_gateway_api():
    message = _error(gateway_server, [Environment(name="test", namespace="ml", operators=["kueue"])])
    assert "expose.gateway: needs the Gateway API (CRDs and a Gateway controller)" in message
    assert "add 'gateway-api' to the environment's operators" in message


def test_fails_when_the_environment_has_no_cert_manager():
    message = _error(ingress_server, [Environment(name="test", namespace="ml", operators=["gateway-api"])])
    assert "expose.cert_manager_issuer: needs cert-manager" in message


def test_fails_when_both_gateway_and_ingress_are_given():
    message = _error(lambda app: InferenceService(app, "s", image=IMAGE, expose={**GATEWAY, **INGRESS, "cert_manager_issuer": None}))
    assert "expose through one of 'gateway' (an HTTPRoute; preferred) or 'ingress_class'" in message


def test_fails_when_tls_is_asked_of_a_route():
    message = _error(lambda app: InferenceService(app, "s", image=IMAGE, expose={**GATEWAY, "tls_secret": "cert"}))
    assert "TLS is terminated by the Gateway's listener" in message


def test_fails_when_hostnames_have_nothing_to_serve_them():
    assert "'hostnames' ['a.example.com'] need 'expose'" in _error(lambda app: InferenceService(app, "s", image=IMAGE, hostnames=["a.example.com"]))


def test_fails_when_a_hostname_is_an_ip_or_has_a_port():
    assert "'10.0.0.1' is not a hostname" in _error(lambda app: InferenceService(app, "s", image=IMAGE, hostnames=["10.0.0.1"], expose=GATEWAY))
    assert "'a.example.com:443' is not a hostname" in _error(lambda app: InferenceService(app, "s", image=IMAGE, hostnames=["a.example.com:443"], expose=GATEWAY))


def test_fails_when_an_ingress_names_no_controller_namespace():
    message = _error(lambda app: InferenceService(app, "s", image=IMAGE, expose={"ingress_class": "nginx"}))
    assert "an Ingress needs proxy_namespace" in message


def test_fails_when_tls_has_no_hostnames():
    message = _error(lambda app: InferenceService(app, "s", image=IMAGE, expose=INGRESS))
    assert "TLS on the Ingress needs 'hostnames'" in message


def test_fails_when_the_path_is_not_a_prefix():
    assert "path 'v1' must be an absolute URL path prefix" in _error(lambda app: InferenceService(app, "s", image=IMAGE, expose={**GATEWAY, "path": "v1"}))


def test_fails_when_kserve_is_exposed():
    message = _error(lambda app: InferenceService(app, "s", backend="kserve", model="s3://m/v1", kserve={"model_format": "sklearn"}, expose=GATEWAY))
    assert "KServe exposes its InferenceService through its own ingress configuration" in message
