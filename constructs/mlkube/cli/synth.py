"""``mlkube synth``: run the platform app and write the config repo tree."""

from __future__ import annotations

import os
import runpy
import shlex
import sys
from pathlib import Path

import click
import yaml

from ..errors import MlkubeError
from . import handle_errors


def app_entry(config: Path = Path("cdk8s.yaml")) -> Path:
    """The Python file that cdk8s.yaml's ``app`` command runs."""
    if not config.exists():
        raise MlkubeError.single("no cdk8s.yaml here and no --app given", hint="run in the config repo root, or pass --app apps/main.py")
    try:
        settings = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{config}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(config)
        raise MlkubeError.single(f"{config} is not valid YAML: {getattr(error, 'problem', None) or error}", where=where,
                                 hint="it needs 'language: python' and 'app: python apps/main.py'") from None
    if not isinstance(settings, dict):
        raise MlkubeError.single(f"{config} must be a YAML mapping (got {type(settings).__name__})", where=str(config),
                                 hint="it needs 'language: python' and 'app: python apps/main.py'")
    words = shlex.split(str(settings.get("app", "")))
    script = next((word for word in reversed(words) if word.endswith(".py")), None)
    if script is None:
        raise MlkubeError.single(f"cdk8s.yaml's app ({settings.get('app')!r}) runs no .py file", where=str(config),
                                 hint="set app: python apps/main.py")
    return Path(script)


def require_app_file(app: Path) -> None:
    """The blueprint must be a Python file (runpy would also try a folder or a zip, and fail obscurely)."""
    if not app.exists():
        raise MlkubeError.single(f"app file {app} does not exist", hint="pass --app PATH or fix cdk8s.yaml")
    if not app.is_file() or app.suffix != ".py":
        raise MlkubeError.single(f"app {app} is not a Python file", hint="pass --app the platform's Python file, e.g. apps/main.py")


def run_app(app: Path, out: Path | None) -> None:
    """Run the blueprint file as ``__main__`` in this process (one Python and one Node start-up)."""
    require_app_file(app)
    if out is not None:
        os.environ["MLKUBE_OUT"] = str(out)  # read by Platform (mlkube.core.platform.OUT_ENV)
    sys.path.insert(0, str(app.parent.absolute()))
    sys.argv = [str(app)]
    try:
        runpy.run_path(str(app), run_name="__main__")
    except SyntaxError as error:  # the file is not Python at all; other errors in it keep their traceback (user code)
        raise MlkubeError.single(f"{app} is not valid Python: {error.msg}", where=f"{error.filename}:{error.lineno}",
                                 hint="fix the blueprint file") from None


@click.command("synth")
@click.option("--app", "app", type=click.Path(path_type=Path), help="Blueprint file to run [default: from cdk8s.yaml].")
@click.option("--out", "out", type=click.Path(path_type=Path), help="Output folder [default: dist].")
@click.option("--no-cache", "no_cache", is_flag=True, help="Compute every object again: neither read nor write the synth cache "
              "(kept outside the repo, in $MLKUBE_CACHE_DIR or $XDG_CACHE_HOME/mlkube; it never changes the output).")
@click.option("--jobs", "jobs", type=click.IntRange(min=1), help="Processes for the per-object work [default: the CPUs available; 1 on one CPU].")
@handle_errors
def command(app: Path | None, out: Path | None, no_cache: bool, jobs: int | None) -> None:
    """Synthesize the platform into OUT/<environment>/<app>/, validating every object first."""
    from ..core.node_start import start_node_early

    start_node_early()  # Node boots while Python loads the blueprint and mlkube (core/node_start.py)
    # Read by the synth the blueprint runs (mlkube.incremental): the blueprint calls platform.synth() itself.
    if no_cache:
        os.environ["MLKUBE_NO_CACHE"] = "1"
    if jobs is not None:
        os.environ["MLKUBE_JOBS"] = str(jobs)
    run_app(app or app_entry(), out)
