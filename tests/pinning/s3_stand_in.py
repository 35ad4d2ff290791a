"""A versioned S3 bucket on 127.0.0.1 for the model tests: ListObjectsV2, HeadObject and GetObject (with versionId).

Path-style requests only (botocore uses them for an IP endpoint). Answers as the AWS S3 API Reference describes:
ListObjectsV2 (``GET /<bucket>?list-type=2&prefix=``, a ListBucketResult XML body), HeadObject and GetObject
(``x-amz-version-id`` header; ``?versionId=`` reads that version; an unknown version is 404 NoSuchVersion).
Signatures are not checked. Every request is served within the test's lifetime; the server thread is a daemon.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

__all__ = ["S3StandIn", "running_s3", "s3_environment", "GcsStandIn", "running_gcs"]


class S3StandIn:
    def __init__(self, versioned: bool = True) -> None:
        self.versioned = versioned
        #: bucket -> key -> [(version id, body)], oldest first
        self.objects: dict[str, dict[str, list[tuple[str, bytes]]]] = {}
        self.requests: list[str] = []
        self.address = ""

    def put(self, bucket: str, key: str, body: bytes) -> str:
        versions = self.objects.setdefault(bucket, {}).setdefault(key, [])
        version = f"v{len(versions) + 1}-{hashlib.sha256(key.encode()).hexdigest()[:8]}" if self.versioned else "null"
        if not self.versioned:
            versions.clear()
        versions.append((version, body))
        return version

    @property
    def endpoint(self) -> str:
        return f"http://{self.address}"


def _handler(store: S3StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _parts(self) -> tuple[str, str, dict[str, str]]:
            url = urllib.parse.urlsplit(self.path)
            bucket, _, key = url.path.lstrip("/").partition("/")
            return bucket, urllib.parse.unquote(key), dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))

        def _error(self, status: int, code: str) -> None:
            body = f"<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body) if self.command != "HEAD" else 0))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _object(self) -> tuple[str, bytes] | None:
            bucket, key, query = self._parts()
            versions = store.objects.get(bucket, {}).get(key)
            if not versions:
                self._error(404, "NoSuchKey")
                return None
            wanted = query.get("versionId")
            found = next((v for v in versions if v[0] == wanted), None) if wanted else versions[-1]
            if found is None:
                self._error(404, "NoSuchVersion")
                return None
            return found

        def _send_object(self, with_body: bool) -> None:
            store.requests.append(f"{self.command} {self.path}")
            found = self._object()
            if found is None:
                return
            version, body = found
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("ETag", f"\"{hashlib.md5(body).hexdigest()}\"")
            self.send_header("Last-Modified", formatdate(0, usegmt=True))
            if store.versioned:
                self.send_header("x-amz-version-id", version)
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self._send_object(False)

        def do_GET(self) -> None:
            bucket, key, query = self._parts()
            if key or query.get("list-type") != "2":
                self._send_object(True)
                return
            store.requests.append(f"LIST {self.path}")
            if bucket not in store.objects:
                self._error(404, "NoSuchBucket")
                return
            prefix = query.get("prefix", "")
            keys = sorted(k for k in store.objects[bucket] if k.startswith(prefix))
            contents = "".join(f"<Contents><Key>{escape(k)}</Key><Size>{len(store.objects[bucket][k][-1][1])}</Size>"
                               f"<StorageClass>STANDARD</StorageClass></Contents>" for k in keys)
            body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                    f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(keys)}</KeyCount>"
                    f"<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A loopback HTTP server for one test: its address while the block runs, then shut down."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def running_s3(store: S3StandIn) -> Iterator[S3StandIn]:
    with _serving(_handler(store)) as address:
        store.address = address
        yield store


#: Environment for boto3 against the stand-in: fixed keys, no profile files, no instance metadata lookups.
def s3_environment(store: S3StandIn) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": store.endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_MAX_ATTEMPTS": "1"}


class GcsStandIn:
    """GCS objects by generation on 127.0.0.1, for google-cloud-storage with STORAGE_EMULATOR_HOST: the JSON API media
    download ``GET /download/storage/v1/b/<bucket>/o/<object>?alt=media&generation=<n>`` (cloud.google.com/storage/docs/json_api/v1/objects/get)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[int, bytes]] = {}
        self.requests: list[str] = []
        self.address = ""

    def put(self, bucket: str, name: str, body: bytes) -> int:
        generations = self.objects.setdefault((bucket, name), {})
        generation = 1700000000000000 + len(generations)
        generations[generation] = body
        return generation


def _gcs_handler(store: GcsStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, status: int, body: object) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def _metadata(self, bucket: str, name: str, generations: dict[int, bytes]) -> dict[str, str]:
            newest = max(generations)
            return {"kind": "storage#object", "bucket": bucket, "name": name, "generation": str(newest), "size": str(len(generations[newest]))}

        def do_GET(self) -> None:
            store.requests.append(self.path)
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.split("/")  # '', download, storage, v1, b, <bucket>, o, <object>
            query = dict(urllib.parse.parse_qsl(url.query))
            if parts[1:4] == ["storage", "v1", "b"] and len(parts) == 6 and parts[5] == "o":  # objects.list
                prefix = query.get("prefix", "")
                items = [self._metadata(bucket, name, gens) for (bucket, name), gens in sorted(store.objects.items())
                         if bucket == parts[4] and name.startswith(prefix)]
                self._json(200, {"kind": "storage#objects", "items": items})
                return
            if parts[1:4] == ["storage", "v1", "b"] and len(parts) == 7 and parts[5] == "o":  # objects.get (metadata)
                name = urllib.parse.unquote(parts[6])
                generations = store.objects.get((parts[4], name))
                if generations:
                    self._json(200, self._metadata(parts[4], name, generations))
                else:
                    self._json(404, {"error": {"code": 404, "message": "No such object"}})
                return
            generations = self.objects_of(parts)
            wanted = int(query["generation"]) if "generation" in query else (max(generations) if generations else 0)
            body = generations.get(wanted)
            self.send_response(200 if body is not None else 404)
            payload = body if body is not None else b'{"error": {"code": 404, "message": "No such object"}}'
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Content-Type", "application/octet-stream" if body is not None else "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def objects_of(self, parts: list[str]) -> dict[int, bytes]:
            if len(parts) != 8 or parts[1:5] != ["download", "storage", "v1", "b"] or parts[6] != "o":
                return {}
            return store.objects.get((parts[5], urllib.parse.unquote(parts[7])), {})

    return Handler


@contextmanager
def running_gcs(store: GcsStandIn) -> Iterator[GcsStandIn]:
    with _serving(_gcs_handler(store)) as address:
        store.address = address
        yield store
