"""The ``mlkube`` command. Each subcommand lives in its own module and is registered here."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from ..errors import EXIT_USER_ERROR, MlkubeError, os_error_text

__all__ = ["main", "handle_errors"]

F = TypeVar("F", bound=Callable[..., Any])

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def handle_errors(command: F) -> F:
    """Print user errors without a traceback and exit with their code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except MlkubeError as error:
            click.echo(str(error), err=True)
            sys.exit(error.exit_code)
        except OSError as error:
            # A read-only or full file system, a missing folder: the environment, not mlkube, said no.
            click.echo(f"error: {os_error_text(error)}", err=True)
            sys.exit(EXIT_USER_ERROR)
        except Exception as error:
            # A spec built directly in the blueprint with a wrong value raises pydantic's ValidationError
            # in user code; pydantic is imported only when that happens (``mlkube diff`` never loads it).
            if type(error).__name__ != "ValidationError":
                raise
            from ..core.spec import user_error

            converted = user_error(error)
            if converted is None:
                raise
            click.echo(str(converted), err=True)
            sys.exit(converted.exit_code)

    return cast(F, wrapper)


class _LazyGroup(click.Group):
    """Imports a subcommand's module only when that command runs (or help lists it): ``mlkube diff``
    then skips importing blueprint, schemas, check and the rest, about 0.4 s of its 0.65 s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Command name -> module of this package that defines it as ``command``.
        self.lazy: dict[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValueError as error:
            # click checks path arguments with os.stat while parsing, before any command runs; a NUL
            # character makes that raise ValueError rather than report a bad parameter (found by the CLI fuzzer).
            if "null byte" not in str(error):
                raise
            raise click.UsageError("an argument holds a NUL character (\\0), which no path or name may contain") from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``mlkube --help`` lists the commands from SUMMARIES without importing them (0.1 s instead of 1.7 s);
        a command without a summary is imported for its help (tests/cli/test_startup.py keeps them equal)."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command: click.Command | None
            if name not in self.commands and name in SUMMARIES:
                command = click.Command(name, help=SUMMARIES[name])
            else:
                command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(importlib.import_module(f".{self.lazy[cmd_name]}", __name__).command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="mlkube")
def main() -> None:
    """mlkube: typed cdk8s constructs for ML workloads, compiled into a GitOps config repo."""


def run() -> None:
    """The ``mlkube`` program (its console script, and ``python -m mlkube``): one command, then the process exits.

    Python's garbage collector is tuned for that (core/gc_tuning.py): what lives at the start is frozen, and what
    the command leaves is frozen at the end, so the collection at exit does not walk it. ``main`` itself, invoked
    in another program's process (a test's CliRunner), leaves the collector alone. Before exiting, it waits for
    Node's early start to end (core/node_start.py), so exiting never races it.
    """
    from ..core.gc_tuning import freeze_built_objects, tune_for_one_command
    from ..core.node_start import finish_early_start

    tune_for_one_command()
    try:
        main()
    finally:
        finish_early_start()  # a command that failed fast exits while Node may still be starting (core/node_start.py)
        freeze_built_objects()


#: The first paragraph of each lazy command's help, for ``mlkube --help`` (tests/cli/test_startup.py checks them).
SUMMARIES = {
    "blueprint": "YAML blueprints (apps/<team>/mlkube.yaml): JSON Schemas and checks.",
    "boot": "Boot the pods of FOLDER (an app of a synthesized tree, e.g. dist/dev/llm-chat) in podman, offline.",
    "chart": "Export APP as a Helm chart: templates equal to synth's objects, values from its specs, values.schema.json.",
    "check": "Check the synthesized tree in DIST; exit 1 listing each finding.",
    "diff": "Compare two sides of the config repo: each a folder, or a git revision REV or REV:PATH of --repo.",
    "images": "Built images (dist/images.json): plan CI's builds.",
    "init": "Write a config repo into FOLDER: blueprint, tests with snapshots, dist/, CI, README.",
    "model": "Model artifacts: package a model directory as an OCI image.",
    "pin": "Pin image references in DIST by digest and models by commit/digest, and record them in DIST/images.lock.json.",
    "promote": "Copy the locked images of SOURCE (repository, tag, digest; model pins) to the gated TARGET (lock file and TARGET's manifests), so TARGET runs the bytes SOURCE tested.",
    "schemas": "JSON Schemas for custom resources, in the {group}/{kind}_{version}.json layout.",
    "synth": "Synthesize the platform into OUT/<environment>/<app>/, validating every object first.",
    "validate": "Validate Kubernetes YAML files and folders: strict schemas and cross-object checks (and --policy).",
    "workflows": "Write the config repo's CI workflows: pull request (synth, validate, diff comment), release (build, scan, push, sign, pin) and promotion (manual, reviewed).",
}


def _register() -> None:
    # One name per command: the module mlkube.cli.<name> defines it as `command` (imported on first use).
    for name in ("synth", "validate", "schemas", "blueprint", "init", "pin", "check", "promote", "diff", "workflows", "boot",
                 "images", "chart", "model"):
        main.lazy[name] = name


_register()
