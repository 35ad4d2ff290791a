"""The ``mlkube`` command. Each subcommand lives in its own module and is registered here."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import MlkubeError

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

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="mlkube")
def main() -> None:
    """mlkube: typed cdk8s constructs for ML workloads, compiled into a GitOps config repo."""


def _register() -> None:
    from . import blueprint, check, diff, init, pin, promote, schemas, synth, validate, workflows

    for module in (synth, validate, schemas, blueprint, init, pin, check, promote, diff, workflows):
        main.add_command(module.command)


_register()
