"""The files of a new config repo (``mlkube init``): rendered templates, its compiled dist/ and its snapshots.

Templates live in ``mlkube/templates/init/`` as package data: a path there is the path in the new
repo with ``.tmpl`` dropped and a leading ``dot-`` turned into ``.`` (packaging tools skip dotfiles).
Placeholders are ``{{ name }}``, so GitHub's ``${{ ... }}`` expressions pass through untouched.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import tempfile
from collections.abc import Callable
from importlib.resources import files as package_files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

__all__ = ["starter_files", "mlkube_requirement", "example_name", "EXAMPLES", "EXTRA_FILES", "SNAPSHOT_TEST"]

#: The example blueprint and its tests, per variant: new-repo path -> template path. ``example_name``
#: picks one. The "training" variant (one server, one GpuTrainingJob, one CheckpointVolume) is used as
#: soon as both constructs are importable from mlkube and its two templates exist.
EXAMPLES: dict[str, dict[str, str]] = {
    "training": {"apps/main.py": "apps/main.training.py.tmpl", "tests/test_platform.py": "tests/test_platform.training.py.tmpl"},
    "serving": {"apps/main.py": "apps/main.serving.py.tmpl", "tests/test_platform.py": "tests/test_platform.serving.py.tmpl"},
}

#: Other features add starter files here: each function returns {path: text} for the new repo
#: (e.g. a commented YAML blueprint, once the YAML blueprint format exists).
EXTRA_FILES: list[Callable[[], dict[str, str]]] = []

#: The test of the example that snapshots every app; its snapshots are written with the repo.
SNAPSHOT_TEST = ("tests/test_platform.py", "test_platform_snapshot")

_TEMPLATES = "templates/init"
_PLACEHOLDER = re.compile(r"\{\{ (\w+) \}\}")


def _template_root() -> Traversable:
    return package_files("mlkube").joinpath(_TEMPLATES)


def example_name() -> str:
    """'training' when mlkube has the training constructs and their example templates, else 'serving'."""
    import mlkube

    root = _template_root()
    has_constructs = all(hasattr(mlkube, name) for name in ("GpuTrainingJob", "CheckpointVolume"))
    if has_constructs and all(root.joinpath(path).is_file() for path in EXAMPLES["training"].values()):
        return "training"
    return "serving"


def mlkube_requirement() -> tuple[str, str]:
    """How the new repo depends on this mlkube: (requirement without extras, where it comes from).

    From a source checkout (the package's grand-parent holds mlkube's pyproject.toml) or a local
    install with a recorded ``file://`` origin: a direct reference to that folder. Otherwise the
    released version.
    """
    import mlkube

    root = Path(mlkube.__file__).resolve().parent.parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(r'(?m)^name = "mlkube"$', pyproject.read_text()):
        return f"mlkube @ {root.as_uri()}", f"the mlkube checkout at {root}"
    try:
        distribution = importlib.metadata.distribution("mlkube")
        origin = json.loads(distribution.read_text("direct_url.json") or "null")
        version = distribution.version
    except importlib.metadata.PackageNotFoundError:
        origin, version = None, "0.1.0"
    if origin and str(origin.get("url", "")).startswith("file://"):
        return f"mlkube @ {origin['url']}", f"the local mlkube at {origin['url']}"
    return f"mlkube=={version}", f"mlkube {version} from the package index"


def _with_extra(requirement: str, extra: str) -> str:
    name, separator, rest = requirement.partition(" @ ") if " @ " in requirement else requirement.partition("==")
    return f"{name}[{extra}]{separator}{rest}"


def _project_name(folder: Path) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-")
    return name or "ml-config"


def _target_path(template_path: str) -> str:
    parts = [("." + part[4:]) if part.startswith("dot-") else part for part in template_path.split("/")]
    return "/".join(parts).removesuffix(".tmpl")


def _walk(node: Traversable, prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for child in node.iterdir():
        path = f"{prefix}{child.name}"
        if child.is_dir():
            found.update(_walk(child, path + "/"))
        elif child.name.endswith(".tmpl"):
            found[path] = child.read_text(encoding="utf-8")
    return found


def _render(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def _template_files(folder: Path) -> dict[str, str]:
    """Every template rendered, the chosen example under its real name, the other examples left out."""
    requirement, source = mlkube_requirement()
    values = {"project_name": _project_name(folder), "mlkube_requirement": requirement,
              "mlkube_testing_requirement": _with_extra(requirement, "testing"), "mlkube_source": source}
    templates = _walk(_template_root())
    chosen = EXAMPLES[example_name()]
    example_templates = {path for variant in EXAMPLES.values() for path in variant.values()}
    rendered = {_target_path(path): _render(text, values) for path, text in templates.items() if path not in example_templates}
    for target, template in chosen.items():
        rendered[target] = _render(templates[template], values)
    for extra in EXTRA_FILES:
        rendered.update(extra())
    return rendered


def _load_platform(source: str) -> Any:
    """The ``platform`` the example blueprint defines (run as a module, not as ``__main__``)."""
    namespace: dict[str, Any] = {"__name__": "mlkube_init_example"}
    exec(compile(source, "apps/main.py", "exec"), namespace)  # noqa: S102 - our own template
    return namespace["platform"]


def _compiled_files(blueprint: str) -> dict[str, bytes]:
    """dist/ and the snapshots of the example, so the new repo's CI and tests pass from the first commit."""
    from .testing.snapshot import app_documents
    from .testing.synth import SynthesizedObjects

    with tempfile.TemporaryDirectory(prefix="mlkube-init-") as scratch:
        result = _load_platform(blueprint).synthesize(Path(scratch) / "dist")
    files = {f"dist/{path}": data for path, data in result.files.items()}
    test_file, test_name = SNAPSHOT_TEST
    folder = f"tests/__snapshots__/{Path(test_file).stem}"
    for name, text in app_documents(SynthesizedObjects(result.manifests, result.files)).items():
        files[f"{folder}/{test_name}[{name}].yaml"] = text.encode()
    return files


def starter_files(folder: Path) -> dict[str, bytes]:
    """Every file of a new config repo in ``folder``, by path relative to it."""
    rendered = _template_files(folder)
    files = {path: text.encode() for path, text in rendered.items()}
    files.update(_compiled_files(rendered["apps/main.py"]))
    return dict(sorted(files.items()))
