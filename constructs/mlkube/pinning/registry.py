"""The digest of a tag, asked of the registry over its HTTP API (distribution spec), with urllib.

A HEAD on ``/v2/<path>/manifests/<tag>`` that accepts all four manifest types: with one missing,
a registry may answer 404, or convert the manifest and give the digest of the conversion, which
would pin an image that does not exist. Bearer tokens when the registry asks for them (the
``WWW-Authenticate`` challenge), Docker config credentials, and plain HTTP only for registries the
user marks insecure.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from ..image import DIGEST
from ..images.reference import DOCKER_HUB, DOCKER_HUB_API, registry_of
from .auth import Credentials, parse_challenge

__all__ = ["RegistryClient", "RegistryError", "MANIFEST_TYPES"]

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


class _NoRedirectAuth(urllib.request.HTTPRedirectHandler):
    # A redirect to blob storage must not carry the registry's Authorization header along.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.headers.pop("Authorization", None)
        return new


class RegistryClient:
    """Resolves ``repository:tag`` to the digest the registry serves."""

    def __init__(self, insecure: Iterable[str] = (), credentials: Credentials | None = None, timeout: float = 15.0) -> None:
        self.insecure = set(insecure)
        self.credentials = credentials if credentials is not None else Credentials()
        self.timeout = timeout
        self._tokens: dict[tuple[str, str], str] = {}
        self._opener = urllib.request.build_opener(_NoRedirectAuth(), urllib.request.HTTPSHandler(context=ssl.create_default_context()))

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
        response = self._request("HEAD", url, host, path)
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:
            # Some registries leave the header out of HEAD answers: hash the manifest itself.
            body = self._request("GET", url, host, path).read()
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if not DIGEST.match(digest):
            raise RegistryError(f"{repository}:{tag}: the registry answered an unexpected digest {digest!r}")
        return digest

    def _request(self, method: str, url: str, host: str, path: str, retried: bool = False):  # type: ignore[no-untyped-def]
        request = urllib.request.Request(url, method=method, headers={"Accept": ", ".join(MANIFEST_TYPES)})
        authorization = self._tokens.get((host, path))
        if authorization:
            request.add_header("Authorization", authorization)
        try:
            return self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            if error.code == 401 and not retried:
                self._tokens[(host, path)] = self._authorize(error.headers.get("WWW-Authenticate", ""), host, path)
                return self._request(method, url, host, path, retried=True)
            raise _http_error(error, url, host) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RegistryError(f"cannot reach the registry {host} ({url}): {reason}",
                                f"is it running? a registry without TLS needs --insecure-registry {host}") from None

    def _authorize(self, challenge: str, host: str, path: str) -> str:
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
        request = urllib.request.Request(params["realm"] + "?" + urllib.parse.urlencode(query))
        if basic:
            request.add_header("Authorization", f"Basic {basic}")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RegistryError(f"the token service of {host} refused access (HTTP {error.code})", _LOGIN_HINT) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise RegistryError(f"cannot get a token from {params['realm']}: {error}") from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise RegistryError(f"the token service of {host} answered no token")
        return f"Bearer {token}"


_LOGIN_HINT = "log in (docker login / buildah login) so that the Docker or containers auth file has credentials"


def _http_error(error: urllib.error.HTTPError, url: str, host: str) -> RegistryError:
    if error.code == 404:
        return RegistryError(f"not found in the registry (HTTP 404 for {url})", "push the image first, or check its name and tag", 404)
    if error.code in (401, 403):
        return RegistryError(f"access denied by {host} (HTTP {error.code})", _LOGIN_HINT, error.code)
    return RegistryError(f"the registry {host} answered HTTP {error.code} {error.reason} for {url}",
                         "try again later; nothing was changed", error.code)
