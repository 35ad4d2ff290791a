"""Registry credentials from the usual files, and the token dance of the registry API.

Credentials come from ``$DOCKER_CONFIG/config.json`` (else ``~/.docker/config.json``) and the
containers auth file (``$REGISTRY_AUTH_FILE``, else ``$XDG_RUNTIME_DIR/containers/auth.json``) that
buildah, podman and skopeo write: their ``auths`` entries (``auth`` = base64 ``user:password``).
Credential helpers (``credsStore``) are not run.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

__all__ = ["Credentials", "parse_challenge", "docker_config_paths"]

_PARAM = re.compile(r'(\w+)="([^"]*)"')
_DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io", "docker.io")


def docker_config_paths() -> list[Path]:
    paths = [Path(os.environ["DOCKER_CONFIG"]) / "config.json"] if os.environ.get("DOCKER_CONFIG") else \
        [Path.home() / ".docker" / "config.json"]
    if os.environ.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    elif os.environ.get("XDG_RUNTIME_DIR"):
        paths.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    return paths


def _host_of(key: str) -> str:
    # Keys are 'host', 'host:port', 'https://host/v1/' or 'host/path'.
    return re.sub(r"^[a-z]+://", "", key).split("/", 1)[0]


class Credentials:
    """user:password per registry host."""

    def __init__(self, paths: list[Path] | None = None) -> None:
        self._basic: dict[str, str] = {}
        for path in paths if paths is not None else docker_config_paths():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        for key, entry in (data.get("auths") or {}).items() if isinstance(data, dict) else ():
            if not isinstance(entry, dict):
                continue
            token = entry.get("auth")
            if not token and entry.get("username") and entry.get("password"):
                token = base64.b64encode(f"{entry['username']}:{entry['password']}".encode()).decode()
            if token:
                self._basic.setdefault(_host_of(key), str(token))

    def basic(self, host: str) -> str | None:
        """The base64 ``user:password`` for ``host``, if the config files have one."""
        if host in ("docker.io", "registry-1.docker.io"):
            return next((self._basic[_host_of(k)] for k in _DOCKER_HUB_KEYS if _host_of(k) in self._basic), None)
        return self._basic.get(host)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))
