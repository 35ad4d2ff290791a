"""A pod's volumes made on this machine, as the kubelet would make them on a node.

emptyDir: a folder with mode 0777 (pkg/volume/emptydir/empty_dir.go), a tmpfs of ``sizeLimit`` for
``medium: Memory``; persistentVolumeClaim: one folder per claim, shared by every pod of the boot (the same
claim is the same volume; a claim restored from a snapshot of another claim reads that claim's folder); secret, configMap, downwardAPI and projected: files with their modes, group-owned
by the pod's fsGroup (pkg/volume/volume_linux.go SetVolumeOwnership), mounted read-only.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..kube.quantity import parse_quantity
from .environment import STAND_IN_SECRET, AppObjects, ConfigError, field_value
from .pods import PodToBoot

__all__ = ["MadeVolume", "make_volumes", "unmount_all"]


@dataclass
class MadeVolume:
    path: Path
    read_only: bool = False  # every mount of it is read-only (secrets, configMaps, a read-only claim)
    note: str = ""


def make_volumes(pod: PodToBoot, root: Path, objects: AppObjects, mounted: list[Path]) -> dict[str, MadeVolume]:
    """Every volume of ``pod`` under ``root``; tmpfs mounts are appended to ``mounted`` for teardown."""
    fs_group = (pod.spec.get("securityContext") or {}).get("fsGroup")
    made: dict[str, MadeVolume] = {}
    for volume in pod.spec.get("volumes") or []:
        name = str(volume["name"])
        folder = root / "pods" / pod.name / name
        if "emptyDir" in volume:
            made[name] = _empty_dir(folder, volume["emptyDir"] or {}, fs_group, mounted)
        elif "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]
            claim_name = str(claim["claimName"])
            restored = objects.restored_claims.get(claim_name)
            # A claim restored from a snapshot of another claim of the app: that claim's folder as it is at boot (read-only).
            folder_name = restored[1] if restored else claim_name
            made[name] = MadeVolume(_shared_dir(root / "claims" / folder_name, fs_group), bool(claim.get("readOnly")) or bool(restored))
            if restored:
                made[name].note = f"claim {claim_name} (restored from VolumeSnapshot {restored[0]}): stands in with claim {restored[1]} as it is"
        elif "secret" in volume:
            made[name] = _files(folder, _secret_files(volume["secret"], objects), volume["secret"].get("defaultMode", 0o644), fs_group)
            if volume["secret"].get("secretName") not in objects.secrets or volume["secret"].get("secretName") in objects.stand_in_secrets:
                made[name].note = f"secret {volume['secret'].get('secretName')}: stand-in files"
        elif "configMap" in volume:
            made[name] = _files(folder, _config_map_files(volume["configMap"], objects), volume["configMap"].get("defaultMode", 0o644), fs_group)
        elif "downwardAPI" in volume:
            made[name] = _files(folder, _downward_files(volume["downwardAPI"], pod), volume["downwardAPI"].get("defaultMode", 0o644), fs_group)
        elif "projected" in volume:
            made[name] = _files(folder, _projected_files(volume["projected"], pod, objects), volume["projected"].get("defaultMode", 0o644), fs_group)
        else:
            kinds = sorted(set(volume) - {"name"})
            raise ConfigError(f"volume {name}: {', '.join(kinds)} volumes are not supported by mlkube boot "
                              "(emptyDir, persistentVolumeClaim, secret, configMap, downwardAPI and projected are)")
    return made


def _shared_dir(folder: Path, fs_group: int | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if fs_group is not None:
        os.chown(folder, -1, int(fs_group))
    folder.chmod(0o2777)  # world-writable like an emptyDir; setgid so new files keep the fsGroup
    return folder


def _empty_dir(folder: Path, source: dict[str, Any], fs_group: int | None, mounted: list[Path]) -> MadeVolume:
    folder.mkdir(parents=True, exist_ok=True)
    note = ""
    if source.get("medium") == "Memory":
        size = f",size={int(parse_quantity(source['sizeLimit']))}" if source.get("sizeLimit") else ""
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"mode=0777{size}", "tmpfs", str(folder)], capture_output=True, text=True)
        if done.returncode == 0:
            mounted.append(folder)
        else:
            note = f"medium Memory: not memory-backed here ({done.stderr.strip() or 'mount failed'})"
    return MadeVolume(_shared_dir(folder, fs_group), note=note)


def _secret_files(source: dict[str, Any], objects: AppObjects) -> list[tuple[str, str, int | None]]:
    data = objects.secret(str(source.get("secretName")))
    if data is None:
        if source.get("optional"):
            return []
        # A Secret made outside the repo: its keys are unknown unless items name them.
        return [(str(item["path"]), STAND_IN_SECRET, item.get("mode")) for item in source.get("items") or []]
    return _items(data, source, "secret " + str(source.get("secretName")))


def _config_map_files(source: dict[str, Any], objects: AppObjects) -> list[tuple[str, str, int | None]]:
    data = objects.config_maps.get(str(source.get("name")))
    if data is None:
        if source.get("optional"):
            return []
        raise ConfigError(f"configMap {source.get('name')!r} is not among the app's manifests")
    return _items(data, source, "configMap " + str(source.get("name")))


def _items(data: dict[str, str], source: dict[str, Any], what: str) -> list[tuple[str, str, int | None]]:
    if not source.get("items"):
        return [(key, value, None) for key, value in data.items()]
    files = []
    for item in source["items"]:
        if item["key"] not in data:
            if source.get("optional"):
                continue
            raise ConfigError(f"{what} has no key {item['key']!r}")
        files.append((str(item["path"]), data[item["key"]], item.get("mode")))
    return files


def _downward_files(source: dict[str, Any], pod: PodToBoot) -> list[tuple[str, str, int | None]]:
    files = []
    for item in source.get("items") or []:
        if "fieldRef" not in item:
            raise ConfigError(f"downwardAPI {item.get('path')}: only fieldRef items are supported by mlkube boot")
        path = str(item["fieldRef"]["fieldPath"])
        if path in ("metadata.labels", "metadata.annotations"):
            values = pod.labels if path == "metadata.labels" else pod.annotations
            text = "\n".join(f'{key}="{value}"' for key, value in sorted(values.items()))
        else:
            text = field_value(path, pod, str(item["path"]))
        files.append((str(item["path"]), text, item.get("mode")))
    return files


def _projected_files(source: dict[str, Any], pod: PodToBoot, objects: AppObjects) -> list[tuple[str, str, int | None]]:
    files: list[tuple[str, str, int | None]] = []
    for part in source.get("sources") or []:
        if "secret" in part:
            files += _secret_files({**part["secret"], "secretName": part["secret"].get("name")}, objects)
        elif "configMap" in part:
            files += _config_map_files(part["configMap"], objects)
        elif "downwardAPI" in part:
            files += _downward_files(part["downwardAPI"], pod)
        elif "serviceAccountToken" in part:
            files.append((str(part["serviceAccountToken"]["path"]), STAND_IN_SECRET, None))  # no API server to ask
        else:
            raise ConfigError(f"projected source {sorted(part)} is not supported by mlkube boot")
    return files


def _files(folder: Path, files: list[tuple[str, str, int | None]], default_mode: int, fs_group: int | None) -> MadeVolume:
    folder.mkdir(parents=True, exist_ok=True)
    for path, text, mode in files:
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        if fs_group is not None:
            os.chown(target, 0, int(fs_group))
        target.chmod(int(mode if mode is not None else default_mode))
    folder.chmod(0o755)
    return MadeVolume(folder, read_only=True)


def unmount_all(mounted: list[Path]) -> None:
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
    mounted.clear()
