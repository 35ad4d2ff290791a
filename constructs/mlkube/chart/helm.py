"""Running the real helm: package a chart, push it to an OCI registry, and record its digest in the lock."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import MlkubeError
from ..pinning.lock import LOCK_FILE, ChartLockEntry, load_lock, lock_path

__all__ = ["helm_binary", "run_helm", "package_chart", "push_chart", "record_chart", "record_charts", "HELM_ENV"]

#: Path of the helm binary; default: ``helm`` on PATH, else ``.tools/helm/helm`` (where bin/setup installs helm v4).
HELM_ENV = "MLKUBE_HELM"

#: ``helm push`` prints ``Digest: sha256:...``, the digest of the chart's OCI manifest (helm pkg/pusher/ocipusher.go).
_DIGEST_LINE = re.compile(r"^Digest:\s*(sha256:[0-9a-f]{64})\s*$", re.MULTILINE)


def helm_binary() -> str:
    for candidate in (os.environ.get(HELM_ENV), shutil.which("helm"), ".tools/helm/helm"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise MlkubeError.single("helm is not installed", hint=f"install helm v3.8+ or v4 (bin/setup puts it in .tools/helm/helm), or set {HELM_ENV}")


def run_helm(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run helm offline-friendly (its caches in a throw-away home); raise MlkubeError with helm's own message on failure."""
    with tempfile.TemporaryDirectory(prefix="mlkube-helm-") as home:
        env = {**os.environ, "HELM_CACHE_HOME": f"{home}/cache", "HELM_CONFIG_HOME": os.environ.get("HELM_CONFIG_HOME", f"{home}/config"),
               "HELM_DATA_HOME": f"{home}/data"}
        try:
            result = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise MlkubeError.single(f"helm {args[0]} did not finish within {timeout:.0f} s", hint="check the registry address") from None
    if result.returncode != 0:
        raise MlkubeError.single(f"helm {args[0]} failed: {(result.stderr or result.stdout).strip()}", where=" ".join(args[:2]))
    return result


def _fixed_time() -> int:
    """SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/), else 0."""
    text = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(text) if text.isdigit() else 0


def package_chart(chart_dir: Path, destination: Path) -> Path:
    """``helm package``: the chart archive <name>-<version>.tgz in ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    # helm package copies each file's modification time into the archive: fixed times give the same bytes.
    for path in sorted(chart_dir.rglob("*")):
        os.utime(path, (_fixed_time(), _fixed_time()))
    output = run_helm("package", str(chart_dir), "--destination", str(destination)).stdout
    found = re.search(r"saved it to: (.+\.tgz)\s*$", output, re.MULTILINE)
    if not found:
        raise MlkubeError.single(f"helm package gave no archive path: {output.strip()}")
    return Path(found[1].strip())


def push_chart(archive: Path, registry: str, *, plain_http: bool = False) -> str:
    """``helm push`` the archive to ``oci://<registry>``; the digest helm reports for the pushed chart."""
    # helm push writes the archive's modification time as the manifest's org.opencontainers.image.created
    # (helm pkg/pusher/ocipusher.go: "the time the chart archive file was last written"): a fixed time
    # (SOURCE_DATE_EPOCH, else 0) makes the same chart push to the same digest.
    os.utime(archive, (_fixed_time(), _fixed_time()))
    args = ["push", str(archive), f"oci://{registry.removeprefix('oci://')}"] + (["--plain-http"] if plain_http else [])
    result = run_helm(*args)
    found = _DIGEST_LINE.search(result.stdout + "\n" + result.stderr)
    if not found:
        raise MlkubeError.single(f"helm push reported no digest: {(result.stdout + result.stderr).strip()}")
    return found[1]


def record_chart(dist: Path, environment: str, app: str, entry: ChartLockEntry) -> Path:
    """Write the chart's entry into the lock (see record_charts)."""
    return record_charts(dist, [(environment, app, entry)])


def record_charts(dist: Path, entries: list[tuple[str, str, ChartLockEntry]]) -> Path:
    """Write the charts' entries (environment, app, entry) into the lock: under the output lock, after recovering a
    killed run, journaled (mlkube.output: the lock changes whole or not at all, like pin and promote).

    A gated environment's chart is recorded only while it holds its last promotion, bound to it (chart/pins.py);
    otherwise nothing is written."""
    from ..output import output_lock, recover, replace_files
    from ..pinning.chart_pins import entry_for_environment, gated_refusals

    dist.mkdir(parents=True, exist_ok=True)  # the first charts of a platform are pushed before its first synth
    with output_lock(dist, create=False):
        recover(dist)
        lock = load_lock(dist)
        refused = gated_refusals(lock, sorted({env for env, _, _ in entries}), str(lock_path(dist)))
        if refused:
            raise MlkubeError(refused, title="the lock was not changed")
        for environment, app, entry in entries:
            lock.charts.setdefault(environment, {})[app] = entry_for_environment(lock, environment, entry)
        path = lock_path(dist) if lock_path(dist).exists() else dist / LOCK_FILE
        replace_files({path: lock.to_bytes()}, root=path.parent)
    return path
