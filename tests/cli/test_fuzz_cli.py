"""A fuzzer over every CLI entry point: any arguments and any file content end in exit 0, 1 or 2 and a
message, never a traceback.

Each command runs in-process (click's CliRunner) in a fresh folder, on generated arguments drawn from
its real options, on paths to good, damaged and missing inputs, and on generated file contents (locks,
digest files, manifests, blueprints, cdk8s.yaml, CRDs). Runs are derandomized (the same examples in every
run, so a failure reproduces) and bounded: a fixed number of examples per command, about 40 s in all on
this 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from click.testing import CliRunner
from helpers import REPO_ROOT
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlkube.cli import main

#: Commands and their options (flags take no value); every entry point of `mlkube`.
COMMANDS: dict[tuple[str, ...], tuple[list[str], list[str]]] = {
    ("synth",): (["--app", "--out"], []),
    ("validate",): (["--crd-schemas", "--kubernetes-version", "--format", "--output", "--allowed-registry"],
                    ["--strict", "--policy", "--require-digests"]),
    ("check",): (["--env", "--dist"], ["--pinned"]),
    ("promote",): (["--dist"], []),
    ("pin",): (["--dist", "--digests", "--digest", "--insecure-registry", "--revision"], []),
    ("diff",): (["--repo", "--format", "--fail-on", "--production"], []),
    ("workflows",): (["--app", "--out"], ["--check"]),
    ("init",): ([], ["--allow-non-empty", "--force"]),
    ("blueprint", "check"): ([], []),
    ("blueprint", "schema"): (["--out"], []),
    ("schemas", "import"): (["--out", "--kubernetes-version"], ["--skip-other-kinds"]),
    ("images", "plan"): (["--dist", "--matrix-out", "--digests-out", "--insecure-registry"], []),
    ("images", "pin-bases"): (["--dist", "--digests", "--insecure-registry"], []),
    # boot runs pods in podman: it gets only paths that hold no workload (its own argument checks are fuzzed).
    ("boot",): (["--image-map", "--timeout", "--settle"], ["--logs"]),
}
FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

# Values an option or argument may get: paths prepared in every run folder, and odd text. Commands write
# where they are told (init, --out), so every path stays inside the run's own temporary folder: relative,
# at most one '..' (the run folder is two levels deep), never absolute; generated text has no '/', '\\', '.'.
PATHS = ["dist", "dist/dev", "dist/images.lock.json", "lock.json", "digests.json", "bad.yaml", "manifests.yaml", "blueprint.yaml",
         "crd.yaml", "nothing", "missing/deep/file.yaml", ".", "..", "", "dist/dev/fraud-scoring"]
WORDS = ["dev", "staging", "prod", "../x", "text", "sarif", "json", "markdown", "high", "info", "1.34", "9.99", "x=y", "REF=digests.json",
         "127.0.0.1:1", "HEAD", "HEAD:dist", "-", "--", "é", "\x00", "a" * 300]
tokens = st.one_of(st.sampled_from(PATHS), st.sampled_from(WORDS),
                   st.text(st.characters(exclude_characters="/\\.", exclude_categories=("Cs",)), max_size=12))

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True),
                    st.text(max_size=16), st.sampled_from(["sha256:" + "a" * 64, "ghcr.io/acme/x:1", "dev", "v1", "Deployment"]))
KEYS = ["version", "environments", "images", "repository", "tag", "digest", "source", "apiVersion", "kind", "metadata", "name",
        "namespace", "spec", "containers", "image", "template", "data", "app", "workloads", "language", "replicas", "items",
        "versions", "schema", "openAPIV3Schema", "group", "names", "plural", "served"]
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=5)),
                         max_leaves=25)


def _text(document: object, style: str) -> str:
    if style == "json":
        return json.dumps(document, default=str)
    try:
        return yaml.safe_dump(document)
    except yaml.YAMLError:  # e.g. a lone surrogate: PyYAML cannot write it, so write JSON (also YAML)
        return json.dumps(document, default=str)


contents = st.one_of(
    st.builds(_text, documents, st.sampled_from(["json", "yaml"])),
    st.text(max_size=200),
    st.sampled_from(["[" * 5000, "{" * 5000, "a: &a [*a]", "---\n---\n", "\ufeff", "key: [unclosed", "\t- x"]),
)
FILES = ["lock.json", "digests.json", "bad.yaml", "manifests.yaml", "blueprint.yaml", "crd.yaml", "cdk8s.yaml", "dist/images.lock.json"]


def _prepare(folder: Path, files: dict[str, str]) -> None:
    shutil.copytree(REPO_ROOT / "dist", folder / "dist", ignore=shutil.ignore_patterns(".github"))
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")


@contextmanager
def _run_folder() -> Iterator[Path]:
    previous, argv, syspath = Path.cwd(), list(sys.argv), list(sys.path)
    with tempfile.TemporaryDirectory(prefix="mlkube-fuzz-") as sandbox:
        folder = Path(sandbox) / "parent" / "run"  # '..' is still inside the sandbox
        folder.mkdir(parents=True)
        os.chdir(folder)
        # `images plan` asks the registries of dist/'s images (unreachable here): a short deadline bounds it.
        deadline = os.environ.get("MLKUBE_REGISTRY_DEADLINE")
        os.environ["MLKUBE_REGISTRY_DEADLINE"] = "1"
        try:
            yield folder
        finally:
            os.chdir(previous)
            sys.argv, sys.path[:] = argv, syspath
            os.environ.pop("MLKUBE_OUT", None)
            if deadline is None:
                os.environ.pop("MLKUBE_REGISTRY_DEADLINE", None)
            else:
                os.environ["MLKUBE_REGISTRY_DEADLINE"] = deadline


def _assert_clean(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, catch_exceptions=True)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    details = "".join(traceback.format_exception(result.exception)) if crashed else ""
    assert not crashed, f"mlkube {args!r} raised:\n{details}"
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    assert "Traceback" not in result.output, (args, result.output)


@st.composite
def command_lines(draw) -> list[str]:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    valued, flags = COMMANDS[command]
    values = tokens.filter(lambda token: not token.startswith("dist")) if command == ("boot",) else tokens
    args = list(command)
    for _ in range(draw(st.integers(0, 4))):
        choice = draw(st.sampled_from(["option", "flag", "argument"]))
        if choice == "option" and valued:
            args += [draw(st.sampled_from(valued)), draw(values)]
        elif choice == "flag" and flags:
            args.append(draw(st.sampled_from(flags)))
        else:
            args.append(draw(values))
    return args


@FUZZ
@given(args=command_lines(), files=st.dictionaries(st.sampled_from(FILES), contents, max_size=3))
@example(args=["workflows", "--app", "dist"], files={})  # found by this fuzzer: runpy on a folder raised ImportError
@example(args=["synth", "--app", "dist"], files={})
@example(args=["blueprint", "check", "\x00"], files={})  # found by this fuzzer: click's path check raised ValueError
def test_every_command_with_any_arguments_and_inputs_exits_cleanly(args: list[str], files: dict[str, str]) -> None:
    with _run_folder() as folder:
        _prepare(folder, files)
        _assert_clean(args)


# Commands whose input is one file: the file's content is what varies.
FILE_COMMANDS = [
    ["validate", "input.yaml"], ["validate", "--policy", "input.yaml"], ["validate", "--policy", "--format", "sarif", "input.yaml"],
    ["blueprint", "check", "input.yaml"], ["schemas", "import", "--out", "schemas", "input.yaml"],
    ["pin", "--dist", "dist", "--digests", "input.yaml"], ["check", "--pinned", "--dist", "dist"],
    ["promote", "staging", "prod", "--dist", "dist"], ["diff", "dist", "dist2"],
    ["images", "pin-bases", "--dist", "dist", "--digests", "input.yaml"], ["images", "plan", "--dist", "dist"],
    ["diff", "dist", "dist3"],
]


@settings(FUZZ, max_examples=50)
@given(command=st.sampled_from(FILE_COMMANDS), content=contents)
@example(command=["validate", "--policy", "input.yaml"], content="?: &0 [*0]")  # found by this fuzzer: a list that holds itself
def test_every_file_input_with_any_content_exits_cleanly(command: list[str], content: str) -> None:
    with _run_folder() as folder:
        _prepare(folder, {"input.yaml": content, "dist/images.lock.json": content if command[0] in ("check", "promote") else
                          (REPO_ROOT / "dist/images.lock.json").read_text(),
                          "dist/images.json": content if command[:2] == ["images", "plan"] else (REPO_ROOT / "dist/images.json").read_text()})
        if command[0] == "diff":
            shutil.copytree(folder / "dist", folder / "dist2")
            (folder / "dist2/dev/fraud-scoring/deployment-fraud-scorer.yaml").write_text(content, errors="surrogatepass")
            shutil.copytree(folder / "dist", folder / "dist3")
            for name in ("images.lock.json", "images.json"):
                (folder / "dist3" / name).write_text(content, errors="surrogatepass")
        _assert_clean(command)


@settings(FUZZ, max_examples=6)
@given(app=st.one_of(st.sampled_from(["", "../../escaped", "kube-system", "a" * 70, "Fraud"]), st.text(max_size=10)),
       cdk8s_yaml=st.one_of(st.just("language: python\napp: python main.py\n"), contents))
def test_synth_with_any_app_name_or_cdk8s_yaml_exits_cleanly(app: str, cdk8s_yaml: str) -> None:
    with _run_folder() as folder:
        (folder / "cdk8s.yaml").write_text(cdk8s_yaml, errors="surrogatepass")
        (folder / "main.py").write_text(
            "from mlkube import Environment, InferenceService, Platform\n"
            "platform = Platform(environments=[Environment(name='dev', namespace='ml-{app}')])\n"
            f"platform.app({app!r}, lambda app: InferenceService(app, 's', image='ghcr.io/acme/x:1'))\n"
            "platform.synth()\n")
        _assert_clean(["synth", "--out", "out"])
