"""The digest of a tag, asked of the registry over its HTTP API (distribution spec), with urllib.

A HEAD on ``/v2/<path>/manifests/<tag>`` that accepts all four manifest types: with one missing,
a registry may answer 404, or convert the manifest and give the digest of the conversion, which
would pin an image that does not exist. Bearer tokens when the registry asks for them (the
``WWW-Authenticate`` challenge), Docker config credentials, and plain HTTP only for registries the
user marks insecure.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import io
import json
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any, cast

from ..core.image import DIGEST
from ..core.image_reference import DOCKER_HUB, DOCKER_HUB_API, registry_of
from .auth import Credentials, parse_challenge

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["RegistryClient", "RegistryError", "MANIFEST_TYPES", "DEFAULT_DEADLINE_SECONDS", "DEADLINE_ENV"]

#: The longest one registry call (HEAD, token, GET together) may take: the socket timeout is per read, so
#: a registry that sends one header byte at a time would otherwise hold ``pin --resolve`` for ever.
DEFAULT_DEADLINE_SECONDS = 60.0
#: Environment variable that overrides it (seconds).
DEADLINE_ENV = "MLKUBE_REGISTRY_DEADLINE"

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


class RegistryError(Exception):
    def __init__(self, message: str, hint: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint
        #: The HTTP status the registry answered, when it answered one (404: no such tag).
        self.status = status


class _DeadlineRequest(urllib.request.Request):
    """A request that carries the deadline of the whole lookup: the connections below read it, redirects keep it."""

    def __init__(self, url: str, deadline: float | None, *, method: str | None = None, headers: dict[str, str] | None = None,
                 origin_req_host: str | None = None, unverifiable: bool = False) -> None:
        super().__init__(url, headers=headers or {}, origin_req_host=origin_req_host, unverifiable=unverifiable, method=method)
        self.deadline = deadline


def _deadline_of(request: urllib.request.Request) -> float | None:
    return request.deadline if isinstance(request, _DeadlineRequest) else None


class _NoRedirectAuth(urllib.request.HTTPRedirectHandler):
    # A redirect to blob storage must not carry the registry's Authorization header along.
    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: http.client.HTTPMessage,
                         newurl: str) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is None:
            return None
        kept = dict(new.headers)
        if urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            kept.pop("Authorization", None)
        # The same request, carrying the deadline along: the redirect counts against it.
        return _DeadlineRequest(new.full_url, _deadline_of(req), method=new.get_method(), headers=kept,
                                origin_req_host=new.origin_req_host, unverifiable=new.unverifiable)


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the registry did not answer within the deadline")
    return left


class _DeadlineReader(io.RawIOBase):
    """Socket reads that give up at the deadline: each read waits at most the time left, not a fresh timeout."""

    def __init__(self, sock: socket.socket, deadline: float | None, per_read: float | None) -> None:
        # The socket's own raw file keeps the descriptor open after urllib closes the connection object.
        self._sock, self._raw, self._deadline, self._per_read = sock, sock.makefile("rb", buffering=0), deadline, per_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int | None:
        left = _remaining(self._deadline)
        self._sock.settimeout(min(x for x in (left, self._per_read) if x is not None) if (left or self._per_read) else None)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """The connection's socket, whose reader (http.client reads status, headers and body through
    ``makefile``) and writes honour the deadline; everything else is the socket's own."""

    def __init__(self, sock: socket.socket, deadline: float | None, per_read: float | None) -> None:
        self._sock, self._deadline, self._per_read = sock, deadline, per_read

    def makefile(self, mode: str = "r", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline, self._per_read))

    def sendall(self, data: bytes) -> None:
        left = _remaining(self._deadline)
        self._sock.settimeout(min(x for x in (left, self._per_read) if x is not None) if (left or self._per_read) else None)
        self._sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _connect_within(connection: http.client.HTTPConnection, deadline: float | None, connect: Callable[[], None]) -> None:
    left = _remaining(deadline)
    if left is not None:
        connection.timeout = min(left, connection.timeout) if isinstance(connection.timeout, (int, float)) else left
    per_read = connection.timeout if isinstance(connection.timeout, (int, float)) else None
    connect()  # TCP (and TLS) within the time left
    # A proxy of the socket (duck-typed: http.client only calls makefile, sendall and the socket's own methods).
    connection.sock = cast(socket.socket, _DeadlineSocket(connection.sock, deadline, per_read))


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, deadline: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        _connect_within(self, self._deadline, super().connect)


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, deadline: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        _connect_within(self, self._deadline, super().connect)


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_HTTPConnection, deadline=_deadline_of(req)), req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._ssl_context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_HTTPSConnection, deadline=_deadline_of(req)), req, context=self._ssl_context)


class RegistryClient:
    """Resolves ``repository:tag`` to the digest the registry serves."""

    def __init__(self, insecure: Iterable[str] = (), credentials: Credentials | None = None, timeout: float = 15.0,
                 deadline: float | None = None) -> None:
        self.insecure = set(insecure)
        self.credentials = credentials if credentials is not None else Credentials()
        #: Seconds one socket read or connect may wait.
        self.timeout = timeout
        #: Seconds one digest lookup may take in all (every request, read and redirect of it).
        self.deadline = deadline if deadline is not None else _deadline_from_environment()
        self._tokens: dict[tuple[str, str], str] = {}
        self._opener = urllib.request.build_opener(_NoRedirectAuth(), _DeadlineHTTPHandler(),
                                                   _DeadlineHTTPSHandler(context=ssl.create_default_context()))

    def resolve_all(self, tagged: Iterable[tuple[str, str]], workers: int = 8) -> dict[tuple[str, str], str | RegistryError]:
        """Digest (or the error) of each (repository, tag), asked in parallel."""
        items = sorted(set(tagged))

        def one(item: tuple[str, str]) -> str | RegistryError:
            try:
                return self.digest(*item)
            except RegistryError as error:
                return error

        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
            return dict(zip(items, pool.map(one, items), strict=True))

    def digest(self, repository: str, tag: str) -> str:
        host, path = registry_of(repository)
        api_host = DOCKER_HUB_API if host == DOCKER_HUB else host
        scheme = "http" if host in self.insecure or api_host in self.insecure else "https"
        url = f"{scheme}://{api_host}/v2/{path}/manifests/{urllib.parse.quote(tag)}"
        deadline = time.monotonic() + self.deadline
        try:
            response = self._request("HEAD", url, host, path, deadline)
            digest = response.headers.get("Docker-Content-Digest")
            if not digest:
                # Some registries leave the header out of HEAD answers: hash the manifest itself.
                body = self._request("GET", url, host, path, deadline).read()
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
        except (TimeoutError, http.client.HTTPException, OSError) as error:
            if isinstance(error, TimeoutError) or time.monotonic() >= deadline:
                raise RegistryError(f"the registry {host} did not answer {repository}:{tag} within {self.deadline:g} s ({url})",
                                    f"it may be overloaded or not a registry; try again later (${DEADLINE_ENV} sets the "
                                    "deadline); nothing was changed") from None
            raise RegistryError(f"the registry {host} broke off the answer for {repository}:{tag}: {error}",
                                "try again later; nothing was changed") from None
        if not DIGEST.match(digest):
            raise RegistryError(f"{repository}:{tag}: the registry answered an unexpected digest {digest!r}")
        return digest

    def _request(self, method: str, url: str, host: str, path: str, deadline: float, retried: bool = False) -> http.client.HTTPResponse:
        request = _DeadlineRequest(url, deadline, method=method, headers={"Accept": ", ".join(MANIFEST_TYPES)})
        authorization = self._tokens.get((host, path))
        if authorization:
            request.add_header("Authorization", authorization)
        try:
            response: http.client.HTTPResponse = self._opener.open(request, timeout=min(self.timeout, _remaining(deadline) or self.timeout))
            return response
        except urllib.error.HTTPError as error:
            if error.code == 401 and not retried:
                self._tokens[(host, path)] = self._authorize(error.headers.get("WWW-Authenticate", ""), host, path, deadline)
                return self._request(method, url, host, path, deadline, retried=True)
            raise _http_error(error, url, host) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(error, TimeoutError) or isinstance(reason, TimeoutError):
                raise TimeoutError(str(reason)) from None  # digest() says which registry and the deadline
            raise RegistryError(f"cannot reach the registry {host} ({url}): {reason}",
                                f"is it running? a registry without TLS needs --insecure-registry {host}") from None

    def _authorize(self, challenge: str, host: str, path: str, deadline: float) -> str:
        scheme, params = parse_challenge(challenge)
        basic = self.credentials.basic(host)
        if scheme == "basic":
            if not basic:
                raise RegistryError(f"the registry {host} wants a user name and password", _LOGIN_HINT)
            return f"Basic {basic}"
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"the registry {host} answered 401 with an unsupported challenge {challenge!r}", _LOGIN_HINT)
        query: dict[str, str] = {key: params[key] for key in ("service", "scope") if key in params}
        query.setdefault("scope", f"repository:{path}:pull")
        request = _DeadlineRequest(params["realm"] + "?" + urllib.parse.urlencode(query), deadline)
        if basic:
            request.add_header("Authorization", f"Basic {basic}")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RegistryError(f"the token service of {host} refused access (HTTP {error.code})", _LOGIN_HINT) from None
        except TimeoutError:
            raise
        except (urllib.error.URLError, OSError, ValueError) as error:
            if isinstance(getattr(error, "reason", None), TimeoutError):
                raise TimeoutError(str(error)) from None
            raise RegistryError(f"cannot get a token from {params['realm']}: {error}") from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise RegistryError(f"the token service of {host} answered no token")
        return f"Bearer {token}"


def _deadline_from_environment() -> float:
    text = os.environ.get(DEADLINE_ENV, "")
    try:
        value = float(text) if text else DEFAULT_DEADLINE_SECONDS
    except ValueError:
        value = DEFAULT_DEADLINE_SECONDS
    return value if value > 0 else DEFAULT_DEADLINE_SECONDS


_LOGIN_HINT = "log in (docker login / buildah login) so that the Docker or containers auth file has credentials"


def _http_error(error: urllib.error.HTTPError, url: str, host: str) -> RegistryError:
    if error.code == 404:
        return RegistryError(f"not found in the registry (HTTP 404 for {url})", "push the image first, or check its name and tag", 404)
    if error.code in (401, 403):
        return RegistryError(f"access denied by {host} (HTTP {error.code})", _LOGIN_HINT, error.code)
    return RegistryError(f"the registry {host} answered HTTP {error.code} {error.reason} for {url}",
                         "try again later; nothing was changed", error.code)
