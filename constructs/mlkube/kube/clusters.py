"""Which cluster a file's objects go to: the environment folders of a config repo.

A light module (no policy rules, no pydantic): ``mlkube validate`` groups files by cluster before it
reads them (``mlkube.validation.files``), and ``policy.cli.clusters`` groups objects the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["ARGOCD_FOLDER", "cluster_of"]

#: The folder of Argo CD objects in each environment (``mlkube.gitops.argocd.ARGOCD_FOLDER``; a test keeps them equal).
ARGOCD_FOLDER = "_argocd"


def _environment_folder(file: Path) -> Path | None:
    """The nearest folder above ``file`` that holds an ``_argocd`` folder: an environment of a config repo."""
    for folder in file.parents:
        if (folder / ARGOCD_FOLDER).is_dir():
            return folder
    return None


def cluster_of(shown: str, roots: Sequence[Path], cache: dict[Path, Path | None]) -> str:
    """The cluster of a file: the environment folder of a config repo (``dist/<environment>/<app>/x.yaml``,
    recognised by its ``_argocd`` folder at any depth, or by the layout under a folder given), else one cluster."""
    file = Path(shown).absolute()
    if file.parent not in cache:
        cache[file.parent] = _environment_folder(file)
    if cache[file.parent] is not None:
        return str(cache[file.parent])
    for root in roots:
        try:
            parts = file.relative_to(root.absolute()).parts
        except ValueError:
            continue
        if len(parts) >= 3:
            return f"{root}/{parts[0]}"
    return ""
