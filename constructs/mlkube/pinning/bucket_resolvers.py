"""Resolvers of bucket models for ``mlkube pin --resolve``: the objects under an s3:// or gs:// prefix at their current
versions (S3 version ids, GCS generations), as the pinned URI of mlkube's versioned downloader (core/model_fetch.py)."""

from __future__ import annotations

import os
from typing import Any

from ..core.model import ModelReference
from ..core.model_fetch import versioned_uri
from ..errors import MlkubeError, Problem

__all__ = ["S3Resolver", "GcsResolver"]


class S3Resolver:
    """The object set under ``s3://bucket/prefix`` at its current versions: ListObjectsV2 for the keys, then HeadObject per
    key for its version id (the ``x-amz-version-id`` response header; AWS S3 API Reference, HeadObject and ListObjectsV2).

    The object set is the one KServe's storage initializer downloads for the URI (storage.py ``_download_s3``, v0.15.2):
    every key under the prefix except "folder" keys ending in '/', or only the exact object when the prefix is a key.
    boto3 signs the requests and finds credentials (its default chain: AWS_* variables, profiles, web identity); the endpoint
    is $AWS_ENDPOINT_URL like KServe's. Bounded: ``max_objects`` keys, ``timeout`` seconds per request, two attempts.
    """

    def __init__(self, endpoint: str | None = None, timeout: float = 15.0, max_objects: int = 10_000) -> None:
        self.endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or None
        self.timeout = timeout
        self.max_objects = max_objects
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise MlkubeError.single("pinning s3:// models needs boto3, which is not installed",
                                         hint="pip install 'mlkube[s3]' (boto3 of KServe 0.15's storage initializer)") from None
            config = Config(connect_timeout=self.timeout, read_timeout=self.timeout, retries={"max_attempts": 2, "mode": "standard"})
            self._client = boto3.client("s3", endpoint_url=self.endpoint, config=config)
        return self._client

    def keys(self, bucket: str, prefix: str) -> list[str]:
        """The keys KServe would download for ``prefix``."""
        found: list[str] = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                if key == prefix:
                    return [key]  # KServe stops at the exact object (listed first: it sorts before every longer key)
                if not key.endswith("/"):
                    found.append(key)
                if len(found) > self.max_objects:
                    raise ValueError(f"more than {self.max_objects} objects under the prefix")
        return found

    def resolve(self, uri: str) -> tuple[str, str]:
        """(pinned URI, what was asked); raises MlkubeError naming the model."""
        from botocore.exceptions import BotoCoreError, ClientError

        location = ModelReference(uri).location
        bucket, _, prefix = location[len("s3://"):].partition("/")
        try:
            keys = self.keys(bucket, prefix)
            folder = prefix.rstrip("/") + "/" if prefix else ""
            stray = [key for key in keys if key != prefix and not key.startswith(folder)]
            if stray:
                raise ValueError(f"the prefix also matches {stray[0]!r}, outside the folder {folder!r}; end the URI with '/'")
            versions = {("" if key == prefix else key[len(folder):]): self.client().head_object(Bucket=bucket, Key=key).get("VersionId")
                        for key in keys}
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            hint = "check the credentials (AWS_* variables or profile)" if code in ("403", "AccessDenied") else "check the bucket and prefix"
            raise MlkubeError([Problem(uri, "", f"S3 answered {code or 'an error'}: {error}", hint)]) from None
        except (BotoCoreError, ValueError) as error:
            raise MlkubeError([Problem(uri, "", f"{location}: {error}", "check the prefix, AWS_ENDPOINT_URL and the network")]) from None
        if not versions:
            raise MlkubeError([Problem(uri, "", f"no object under {location}", "check the bucket and prefix")])
        unversioned = sorted(name or prefix for name, version in versions.items() if not version or version == "null")
        if unversioned:
            raise MlkubeError([Problem(uri, "", f"{len(unversioned)} objects have no version id (e.g. {unversioned[0]!r}): the bucket is not "
                                       "versioned, or they were written before versioning was turned on",
                                       "turn on bucket versioning (PutBucketVersioning Status=Enabled) and write the model again")])
        pinned = versioned_uri(location, {name: str(version) for name, version in versions.items()})
        return pinned, f"S3 ListObjectsV2 + HeadObject {location} ({len(versions)} objects)"


class GcsResolver:
    """The object set under ``gs://bucket/prefix`` at its current generations: one objects.list of the folder (each item has
    its ``generation``: cloud.google.com/storage/docs/json_api/v1/objects/list), else the exact object, as KServe's
    ``_download_gcs`` reads the URI (storage.py v0.15.2: the prefix as a folder, else one blob). google-cloud-storage finds
    credentials like KServe (Application Default Credentials, else anonymous); STORAGE_EMULATOR_HOST points it elsewhere.
    Bounded: ``max_objects`` objects, ``timeout`` seconds per request.
    """

    def __init__(self, timeout: float = 15.0, max_objects: int = 10_000) -> None:
        self.timeout = timeout
        self.max_objects = max_objects

    def _client(self) -> Any:
        try:
            from google.cloud import storage
        except ImportError:
            raise MlkubeError.single("pinning gs:// models needs google-cloud-storage, which is not installed",
                                     hint="pip install 'mlkube[gcs]' (google-cloud-storage of KServe 0.15's storage initializer)") from None
        try:
            return storage.Client()
        except Exception:
            return storage.Client.create_anonymous_client()

    def resolve(self, uri: str) -> tuple[str, str]:
        """(pinned URI, what was asked); raises MlkubeError naming the model."""
        location = ModelReference(uri).location
        bucket, _, prefix = location[len("gs://"):].partition("/")
        folder = prefix.rstrip("/") + "/" if prefix else ""
        try:
            client = self._client()
            generations = {blob.name[len(folder):]: str(blob.generation)
                           for blob in client.list_blobs(bucket, prefix=folder, max_results=self.max_objects + 1, timeout=self.timeout)
                           if not blob.name.endswith("/")}
            if len(generations) > self.max_objects:
                raise ValueError(f"more than {self.max_objects} objects under the prefix")
            if not generations and prefix:
                blob = client.bucket(bucket).get_blob(prefix, timeout=self.timeout)
                generations = {"": str(blob.generation)} if blob is not None else {}
        except MlkubeError:
            raise
        except Exception as error:
            raise MlkubeError([Problem(uri, "", f"{location}: {type(error).__name__}: {str(error)[:300]}",
                                       "check the bucket, the credentials and STORAGE_EMULATOR_HOST")]) from None
        if not generations:
            raise MlkubeError([Problem(uri, "", f"no object under {location}", "check the bucket and prefix")])
        return versioned_uri(location, generations), f"GCS objects.list {location} ({len(generations)} objects)"
