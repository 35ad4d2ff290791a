"""``python -m mlkube``: the same as the ``mlkube`` command."""

from .cli import run

run()
