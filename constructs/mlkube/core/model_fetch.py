"""mlkube's versioned model downloader: fetches exactly the object versions a pinned s3:// or gs:// URI lists.

Why it exists: KServe's storage initializer downloads whatever a prefix holds at start-up. Its ``_download_s3``
lists ``bucket.objects.filter(Prefix=...)`` and calls ``bucket.download_file(obj.key, target)`` without a
VersionId; ``_download_gcs`` lists ``bucket.list_blobs(prefix=...)`` without a generation
(kserve/kserve v0.15.2 python/kserve/kserve/storage/storage.py; unchanged in kserve_storage.py of v0.16/v0.17).
A query string is ignored there (``urlparse(uri).path``), so it would silently serve the newest objects.

A pinned URI names its objects and their versions::

    s3://bucket/prefix?versionManifest=sha256:<digest>&<name>=<versionId>&...

``<name>`` is the object key relative to the prefix ('' for an exact object, as KServe's exact-object case);
``<digest>`` is :func:`object_set_digest` of the location and the pairs, so that a hand-edited version is
refused before anything is downloaded. gs:// versions are object generations.

This file is also the downloader's program: the init container runs ``python3 -c <this file> URI DEST`` in
KServe's storage-initializer image, whose venv holds boto3 1.38.4 and google-cloud-storage 2.19.0
(kserve/kserve v0.15.2 python/kserve/poetry.lock; python/storage-initializer.Dockerfile puts the venv first
on PATH). It needs only the standard library and those two. An unpinned URI is handed to KServe's own
entrypoint unchanged, so its behaviour stays KServe's.
"""

import hashlib
import json
import os
import sys
import urllib.parse

MANIFEST_KEY = "versionManifest"
#: Set to a mounted ReadWriteMany claim: one download per model revision, shared by every pod (UriModel.shared_cache).
CACHE_ENV = "MLKUBE_MODEL_CACHE"
#: The storage initializer image's ENTRYPOINT (kserve/kserve v0.15.2 python/storage-initializer.Dockerfile).
KSERVE_ENTRYPOINT = "/storage-initializer/scripts/initializer-entrypoint"


def object_set_digest(location: str, objects: dict[str, str]) -> str:
    """sha256 of the location (``s3://bucket/prefix``) and its sorted (name, version) pairs, as compact JSON."""
    body = json.dumps({"location": location, "objects": sorted(objects.items())}, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def versioned_uri(location: str, objects: dict[str, str]) -> str:
    """The pinned URI of ``objects`` (name -> version) under ``location``."""
    pairs = [(MANIFEST_KEY, object_set_digest(location, objects)), *sorted(objects.items())]
    return location + "?" + urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote, safe="/:")


def parse_versioned(uri: str) -> tuple[str, str, dict[str, str]] | None:
    """(location, digest, objects) of a pinned URI; None without a query; ValueError when it is malformed."""
    location, separator, query = uri.partition("?")
    if not separator:
        return None
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    digests = [value for key, value in pairs if key == MANIFEST_KEY]
    objects = {key: value for key, value in pairs if key != MANIFEST_KEY}
    if len(digests) != 1 or not objects or len(objects) != len(pairs) - 1:
        raise ValueError(f"expected one {MANIFEST_KEY} and each object once: {uri}")
    return location, digests[0], objects


def _key(prefix: str, name: str) -> str:
    """The object key of ``name`` (relative to ``prefix``; '' is the prefix itself)."""
    if not name:
        return prefix
    return f"{prefix.rstrip('/')}/{name}" if prefix else name


def _target(dest: str, prefix: str, name: str) -> str:
    relative = name or prefix.rsplit("/", 1)[-1]
    target = os.path.realpath(os.path.join(dest, relative))
    if not target.startswith(os.path.realpath(dest) + os.sep):
        raise ValueError(f"object name {name!r} leaves the model folder")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    return target


def _fetch_s3(bucket: str, prefix: str, objects: dict[str, str], dest: str) -> None:
    import boto3  # type: ignore[import-untyped,unused-ignore]

    # The endpoint and TLS variables KServe's _download_s3 reads (storage.py v0.15.2).
    options: dict[str, object] = {}
    if os.environ.get("AWS_ENDPOINT_URL"):
        options["endpoint_url"] = os.environ["AWS_ENDPOINT_URL"]
    if os.environ.get("S3_VERIFY_SSL"):
        options["verify"] = os.environ["S3_VERIFY_SSL"].lower() not in ("0", "false")
    client = boto3.client("s3", **options)
    for name, version in sorted(objects.items()):
        # VersionId is one of S3Transfer.ALLOWED_DOWNLOAD_ARGS (boto3 s3/transfer.py): the HeadObject and GetObject
        # calls both carry it, so a deleted version fails the download instead of serving the current object.
        client.download_file(bucket, _key(prefix, name), _target(dest, prefix, name), ExtraArgs={"VersionId": version})


def _fetch_gcs(bucket: str, prefix: str, objects: dict[str, str], dest: str) -> None:
    from google.cloud import storage  # type: ignore[import-untyped,import-not-found,unused-ignore]

    try:
        client = storage.Client()
    except Exception:  # noqa: BLE001 (KServe's _download_gcs falls back to anonymous access the same way)
        client = storage.Client.create_anonymous_client()
    target_bucket = client.bucket(bucket)
    for name, generation in sorted(objects.items()):
        # Bucket.blob(name, generation=...): a read of that generation only (google-cloud-storage 2.19 bucket.py).
        target_bucket.blob(_key(prefix, name), generation=int(generation)).download_to_filename(_target(dest, prefix, name))


def download(uri: str, dest: str) -> None:
    """Fetch the pinned objects of ``uri`` into ``dest``; exit status 1 with a message when the URI is not consistent."""
    parsed = parse_versioned(uri)
    if parsed is None:
        raise SystemExit(f"model-downloader: {uri}: not a pinned object set")
    location, digest, objects = parsed
    if object_set_digest(location, objects) != digest:
        raise SystemExit(f"model-downloader: {uri}: {MANIFEST_KEY} {digest} does not match the listed object versions "
                         "(edited by hand?); run mlkube pin again")
    scheme, _, rest = location.partition("://")
    bucket, _, prefix = rest.partition("/")
    fetch = {"s3": _fetch_s3, "gs": _fetch_gcs}.get(scheme)
    if fetch is None:
        raise SystemExit(f"model-downloader: {scheme}:// has no versioned download")
    fetch(bucket, prefix, objects, dest)
    print(f"model-downloader: {len(objects)} objects of {location} at {digest}", file=sys.stderr)


def fetch(uri: str, dest: str) -> None:
    """Download ``uri`` into ``dest``: a pinned object set by mlkube, anything else by KServe's own entrypoint."""
    if "?" in uri:
        download(uri, dest)
    else:
        import subprocess

        subprocess.run([KSERVE_ENTRYPOINT, uri, dest], check=True)


def cached(uri: str, dest: str, cache: str) -> bool:
    """Fill ``cache``/<sha256 of uri> once (download into a private folder, then rename it into place: rename(2) is atomic,
    so a pod sees a whole model or none, and two pods racing keep one), then link its entries into ``dest``.
    True when this pod downloaded it."""
    import shutil
    import tempfile

    key = hashlib.sha256(uri.encode("utf-8")).hexdigest()
    target = os.path.join(cache, key)
    downloaded = False
    if not os.path.isdir(target):
        partial = tempfile.mkdtemp(prefix=f".partial-{key[:16]}-", dir=cache)
        try:
            fetch(uri, partial)
            os.chmod(partial, 0o755)  # mkdtemp's folder is private; every server pod reads it
            os.rename(partial, target)
            downloaded = True
        except OSError:
            if not os.path.isdir(target):
                raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    for name in sorted(os.listdir(target)):
        link = os.path.join(dest, name)
        if not os.path.lexists(link):
            os.symlink(os.path.join(target, name), link)
    print(f"model-downloader: {uri[:120]} {'downloaded into' if downloaded else 'found in'} the shared cache {target}", file=sys.stderr)
    return downloaded


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit("usage: model-downloader URI DEST")
    cache = os.environ.get(CACHE_ENV)
    if cache:
        cached(argv[1], argv[2], cache)
    elif "?" not in argv[1]:
        os.execv(KSERVE_ENTRYPOINT, [KSERVE_ENTRYPOINT, argv[1], argv[2]])
    else:
        download(argv[1], argv[2])


if __name__ == "__main__":
    main(sys.argv)
