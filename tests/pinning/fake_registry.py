"""A tiny registry API on loopback (http.server) for the client's protocol and fault tests."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeRegistry", "MANIFEST"]

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}).encode()
ALL_TYPES = {"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
             "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json"}


class FakeRegistry:
    """Serves ``/v2/<path>/manifests/<tag>`` for ``tags``; ``mode`` picks a behaviour or a fault."""

    def __init__(self, tags: dict[str, bytes], mode: str = "ok", user: str = "ci", password: str = "secret") -> None:
        self.tags, self.mode = tags, mode
        self.basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests: list[dict[str, Any]] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                registry.handle(self, body=False)

            def do_GET(self) -> None:
                registry.handle(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRegistry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    @staticmethod
    def digest_of(manifest: bytes) -> str:
        return "sha256:" + hashlib.sha256(manifest).hexdigest()

    def handle(self, request: BaseHTTPRequestHandler, body: bool) -> None:
        self.requests.append({"method": request.command, "path": request.path, "accept": request.headers.get("Accept", ""),
                              "authorization": request.headers.get("Authorization", "")})
        if request.path.startswith("/token"):
            return self._token(request)
        if self.mode == "500":
            return self._send(request, 500, b"boom")
        if self.mode == "bearer" and request.headers.get("Authorization") != "Bearer t0k":
            realm = f"http://{self.address}/token"
            return self._send(request, 401, b"", {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake",scope="repository:ml/fraud:pull"'})
        accepted = {kind.strip() for kind in request.headers.get("Accept", "").split(",")}
        tag = request.path.rsplit("/manifests/", 1)[-1]
        path = request.path.removeprefix("/v2/").rsplit("/manifests/", 1)[0]
        manifest = self.tags.get(f"{path}:{tag}")
        if manifest is None or not accepted >= ALL_TYPES:  # like registry 2.8 without the right Accept types
            return self._send(request, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        if self.mode != "no-digest-header":
            headers["Docker-Content-Digest"] = self.digest_of(manifest)
        self._send(request, 200, manifest if body else b"", headers, length=len(manifest))

    def _token(self, request: BaseHTTPRequestHandler) -> None:
        if request.headers.get("Authorization") != f"Basic {self.basic}":
            return self._send(request, 401, b"")
        self._send(request, 200, json.dumps({"token": "t0k"}).encode())

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None,
              length: int | None = None) -> None:
        request.send_response(status)
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(body) if length is None else length))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)
