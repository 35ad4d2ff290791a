"""The files of a new config repo (``mlkube init``): rendered templates, a YAML blueprint and its schema,
the compiled dist/, the snapshots and the CI workflows.

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

__all__ = ["starter_files", "mlkube_requirement", "EXTRA_FILES", "SNAPSHOT_TEST", "BLUEPRINT_PATH", "SCHEMAS_FOLDER"]

#: The YAML blueprint beside the Python one (``mlkube.blueprint.starter_blueprint``), and where its schema goes.
BLUEPRINT_PATH = "apps/my-team/mlkube.yaml"
SCHEMAS_FOLDER = "schemas"


def _blueprint_files() -> dict[str, str]:
    """The commented YAML blueprint and the JSON Schema its modeline points at (editors complete from it)."""
    from ..blueprint import schema_files, starter_blueprint

    depth = BLUEPRINT_PATH.count("/")
    schema = "../" * depth + f"{SCHEMAS_FOLDER}/blueprint.schema.json"
    files = {BLUEPRINT_PATH: starter_blueprint(schema=schema, path=BLUEPRINT_PATH)}
    files.update({f"{SCHEMAS_FOLDER}/{name}": data.decode() for name, data in schema_files().items()})
    return files


#: Functions adding starter files: each returns {path: text} for the new repo.
EXTRA_FILES: list[Callable[[], dict[str, str]]] = [_blueprint_files]

#: The test of the example that snapshots every app; its snapshots are written with the repo.
SNAPSHOT_TEST = ("tests/test_platform.py", "test_platform_snapshot")

_TEMPLATES = "templates/init"
_PLACEHOLDER = re.compile(r"\{\{ (\w+) \}\}")


def _template_root() -> Traversable:
    return package_files("mlkube").joinpath(_TEMPLATES)


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
    """Every template rendered, plus the extra files."""
    requirement, source = mlkube_requirement()
    values = {"project_name": _project_name(folder), "mlkube_requirement": requirement,
              "mlkube_testing_requirement": _with_extra(requirement, "testing"), "mlkube_source": source}
    rendered = {_target_path(path): _render(text, values) for path, text in _walk(_template_root()).items()}
    for extra in EXTRA_FILES:
        rendered.update(extra())
    return rendered


def _compiled_files(rendered: dict[str, str]) -> dict[str, bytes]:
    """dist/, the snapshots of the example and the CI workflows, so the new repo's CI and tests pass from the first commit.

    The repo is written to a scratch folder first: the blueprint finds its YAML blueprints beside it.
    """
    import runpy

    from ..core.platform import Platform
    from ..gitops.workflows import WORKFLOWS_FOLDER, render_workflows
    from ..output import MARKER, MARKER_TEXT
    from ..testing.snapshot import app_documents
    from ..testing.synth import SynthesizedObjects

    with tempfile.TemporaryDirectory(prefix="mlkube-init-") as scratch:
        for path, text in rendered.items():
            (Path(scratch) / path).parent.mkdir(parents=True, exist_ok=True)
            (Path(scratch) / path).write_text(text, encoding="utf-8")
        namespace = runpy.run_path(str(Path(scratch) / "apps" / "main.py"), run_name="mlkube_init_example")
        platform: Platform = namespace["platform"]
        result = platform.synthesize(Path(scratch) / "dist")
        written = dict(result.files)  # read from the scratch folder (SynthResult.files) before it is removed
    files = {f"dist/{path}": data for path, data in written.items()}
    files[f"dist/{MARKER}"] = MARKER_TEXT  # the new repo's dist/ is mlkube's output from the first commit
    test_file, test_name = SNAPSHOT_TEST
    folder = f"tests/__snapshots__/{Path(test_file).stem}"
    for name, text in app_documents(SynthesizedObjects(result.manifests, written)).items():
        files[f"{folder}/{test_name}[{name}].yaml"] = text.encode()
    # What `mlkube workflows` writes from the blueprint's GitOps settings (GitHub runs them from the repo root).
    if platform.gitops is not None:
        files.update({f"{WORKFLOWS_FOLDER}/{name}": data for name, data in render_workflows(platform.gitops).items()})
    return files


def starter_files(folder: Path) -> dict[str, bytes]:
    """Every file of a new config repo in ``folder``, by path relative to it."""
    rendered = _template_files(folder)
    files = {path: text.encode() for path, text in rendered.items()}
    files.update(_compiled_files(rendered))
    return dict(sorted(files.items()))
