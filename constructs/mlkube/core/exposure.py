"""Exposure of an InferenceService outside the cluster: a Gateway API HTTPRoute (preferred) or an Ingress.

HTTPRoute (gateway.networking.k8s.io/v1, https://gateway-api.sigs.k8s.io/api-types/httproute/): the route
attaches to a Gateway the platform team runs (``parentRefs``); the Gateway's listener terminates TLS and its
``allowedRoutes`` must admit routes from the app's namespace. The backend is the server's Service, in the
route's own namespace, so no ReferenceGrant is needed.

Ingress (networking.k8s.io/v1, https://kubernetes.io/docs/concepts/services-networking/ingress/): one rule
per hostname to the Service's serving port; TLS from a named Secret, or a Secret cert-manager issues when the
Ingress carries ``cert-manager.io/cluster-issuer`` or ``cert-manager.io/issuer`` (cert-manager docs,
"Securing Ingress Resources": ingress-shim creates a Certificate for each ``spec.tls`` entry).

Either way the pods that forward requests (the gateway's data plane or the ingress controller) are admitted to
the serving port by a declared connection, so the server's NetworkPolicy lets them in.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .spec import DnsLabel, Spec

__all__ = ["GatewayRef", "ExposeSpec", "http_route", "ingress", "HTTP_ROUTE_API", "INGRESS_API", "validate_hostnames"]

HTTP_ROUTE_API = "gateway.networking.k8s.io/v1"
INGRESS_API = "networking.k8s.io/v1"
# A DNS-1123 subdomain, optionally with a leading '*.' wildcard label (HTTPRoute spec.hostnames and Ingress rules[].host).
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def validate_hostnames(value: list[str]) -> list[str]:
    for host in value:
        if not _HOSTNAME.match(host) or len(host) > 253 or re.match(r"^[0-9.]+$", host):
            raise ValueError(f"{host!r} is not a hostname: lower-case DNS name, optionally starting with '*.', no IP address, "
                             "no port (e.g. 'fraud.models.example.com')")
    if len(set(value)) != len(value):
        raise ValueError(f"hostnames repeat: {value}")
    return value


class GatewayRef(Spec):
    """The Gateway an HTTPRoute attaches to (its parentRef)."""

    name: DnsLabel = Field(description="Name of the Gateway, e.g. 'public'.")
    namespace: DnsLabel = Field(description="Namespace of the Gateway, e.g. 'gateway-system'.")
    section_name: DnsLabel | None = Field(default=None, description="One listener of the Gateway (e.g. 'https'). Default: every listener that admits the route.")


class ExposeSpec(Spec):
    """How the server is reached from outside the cluster: through a Gateway (HTTPRoute) or an Ingress controller."""

    gateway: GatewayRef | None = Field(default=None, description="Attach an HTTPRoute to this Gateway (Gateway API; preferred). Default: none.")
    ingress_class: str | None = Field(default=None, description="Emit an Ingress of this ingressClassName (e.g. 'nginx') instead. Default: none.")
    path: str = Field(default="/", description="Path prefix routed to the server. Default: '/'.")
    proxy_namespace: DnsLabel | None = Field(default=None, description="Namespace of the pods that forward requests to the server, admitted "
                                             "to the serving port by its NetworkPolicy: the ingress controller's (e.g. 'ingress-nginx'), "
                                             "or the gateway's data plane where it is not the Gateway's namespace (Envoy Gateway: "
                                             "'envoy-gateway-system'). Default: the Gateway's namespace; required with ingress_class.")
    tls_secret: DnsLabel | None = Field(default=None, description="Ingress: Secret with the TLS certificate for the hostnames (kubernetes.io/tls). "
                                        "Default: '<name>-tls' with a cert-manager issuer, else no TLS. With a Gateway, TLS is the "
                                        "listener's.")
    cert_manager_issuer: str | None = Field(default=None, description="Ingress: a cert-manager ClusterIssuer that issues the TLS Secret "
                                            "(annotation cert-manager.io/cluster-issuer). Default: none.")
    cert_manager_issuer_kind: Literal["ClusterIssuer", "Issuer"] = Field(default="ClusterIssuer", description="Kind of cert_manager_issuer; "
                                                                         "an Issuer lives in the app's namespace. Default: ClusterIssuer.")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        # HTTPRoute PathPrefix values must start with '/' and hold no '//', '/./', '/../', '%2f', '#' (CRD x-kubernetes-validations).
        if not value.startswith("/") or any(bad in value.lower() for bad in ("//", "/./", "/../", "%2f", "#", "?")):
            raise ValueError(f"path {value!r} must be an absolute URL path prefix such as '/' or '/v1/models/fraud', "
                             "without '//', '/./', '/../', '%2f', '#' or a query")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> ExposeSpec:
        if (self.gateway is None) == (self.ingress_class is None):
            raise ValueError("expose through one of 'gateway' (an HTTPRoute; preferred) or 'ingress_class' (an Ingress)")
        if self.gateway is not None and (self.tls_secret or self.cert_manager_issuer):
            raise ValueError("with a Gateway, TLS is terminated by the Gateway's listener (its certificateRefs), not by the route: "
                             "drop tls_secret/cert_manager_issuer or use ingress_class")
        if self.ingress_class is not None and self.proxy_namespace is None:
            raise ValueError("an Ingress needs proxy_namespace: the ingress controller's namespace (e.g. 'ingress-nginx'), whose "
                             "pods the server's NetworkPolicy admits")
        return self

    @property
    def forwarder_namespace(self) -> str:
        return self.proxy_namespace or (self.gateway.namespace if self.gateway else "")

    def tls_secret_name(self, service: str) -> str | None:
        if self.tls_secret:
            return self.tls_secret
        return f"{service}-tls" if self.cert_manager_issuer else None


def http_route(metadata: dict[str, Any], expose: ExposeSpec, hostnames: list[str], service: str, port: int) -> dict[str, Any]:
    assert expose.gateway is not None
    parent: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": expose.gateway.name,
                              "namespace": expose.gateway.namespace}
    if expose.gateway.section_name:
        parent["sectionName"] = expose.gateway.section_name
    spec: dict[str, Any] = {"parentRefs": [parent]}
    if hostnames:
        spec["hostnames"] = list(hostnames)
    spec["rules"] = [{"backendRefs": [{"name": service, "port": port}],
                      "matches": [{"path": {"type": "PathPrefix", "value": expose.path}}]}]
    return {"apiVersion": HTTP_ROUTE_API, "kind": "HTTPRoute", "metadata": metadata, "spec": spec}


def ingress(metadata: dict[str, Any], expose: ExposeSpec, hostnames: list[str], service: str) -> dict[str, Any]:
    metadata = dict(metadata)
    if expose.cert_manager_issuer:
        key = "cert-manager.io/cluster-issuer" if expose.cert_manager_issuer_kind == "ClusterIssuer" else "cert-manager.io/issuer"
        metadata["annotations"] = {**metadata.get("annotations", {}), key: expose.cert_manager_issuer}
    backend = {"service": {"name": service, "port": {"name": "http"}}}
    paths = [{"backend": backend, "path": expose.path, "pathType": "Prefix"}]
    rules = [{"host": host, "http": {"paths": paths}} for host in hostnames] or [{"http": {"paths": paths}}]
    spec: dict[str, Any] = {"ingressClassName": expose.ingress_class, "rules": rules}
    secret = expose.tls_secret_name(metadata["name"])
    if secret:
        spec["tls"] = [{"hosts": list(hostnames), "secretName": secret}]
    return {"apiVersion": INGRESS_API, "kind": "Ingress", "metadata": metadata, "spec": spec}
