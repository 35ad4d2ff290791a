"""Secrets from an external store (External Secrets Operator): the repo holds a reference, never a value."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..kube.apiserver_rules import ConfigKey
from .spec import AbsolutePath, DnsLabel, Spec

__all__ = ["ExternalSecretSpec", "external_secret_object"]


class ExternalSecretSpec(Spec):
    """A Secret that External Secrets Operator fills from a store (Vault, AWS/GCP secret managers...), mounted as files."""

    name: DnsLabel = Field(description="Name of the Kubernetes Secret it creates (and of the ExternalSecret).")
    store: str = Field(description="Name of the SecretStore or ClusterSecretStore to read from.")
    store_kind: Literal["SecretStore", "ClusterSecretStore"] = Field(default="ClusterSecretStore", description="Kind of the store. Default: ClusterSecretStore.")
    data: dict[ConfigKey, str] = Field(description="Secret key -> remote key, optionally 'remote-key#property', e.g. {'token': 'ml/hf#token'}.", min_length=1)
    mount_path: AbsolutePath = Field(description="Folder where the keys appear as files in the workload, e.g. '/var/run/secrets/hf'.")
    refresh_interval: str = Field(default="1h", description="How often the value is refreshed from the store. Default: 1h.")


def external_secret_object(spec: ExternalSecretSpec, metadata: dict[str, Any]) -> dict[str, Any]:
    data = []
    for secret_key, remote in spec.data.items():
        key, _, prop = remote.partition("#")
        remote_ref = {"key": key, **({"property": prop} if prop else {})}
        data.append({"remoteRef": remote_ref, "secretKey": secret_key})
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata,
        "spec": {
            "data": data,
            "refreshInterval": spec.refresh_interval,
            "secretStoreRef": {"kind": spec.store_kind, "name": spec.store},
            # The Secret belongs to the ExternalSecret: deleting one removes the other, and Argo CD
            # never sees a Secret in git.
            "target": {"creationPolicy": "Owner", "deletionPolicy": "Retain", "name": spec.name},
        },
    }
