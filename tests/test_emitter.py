"""The fast emitter writes exactly PyYAML's bytes (mlkube/kube/render.py's reference path), on every object of
the example platform, of the snapshots, of the bench platform, and on generated data built to provoke
quoting, literal blocks, indentation and empty collections. (tests/conftest.py also compares both paths
for every object any test renders.)"""

from __future__ import annotations

import contextlib
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import REPO_ROOT, yaml_documents
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlkube.kube.emitter import Unsupported, emit_document
from mlkube.kube.render import HEADER_KEYS, _key, _scalar, to_yaml, to_yaml_pyyaml


def _emitted(obj: dict[str, Any]) -> str:
    """The emitter alone (no fallback): an object it refuses fails the tests below that expect it handled."""
    return emit_document(obj, HEADER_KEYS, _scalar, _key)


def test_every_object_of_the_example_platform_and_the_snapshots() -> None:
    paths = sorted((REPO_ROOT / "dist").rglob("*.yaml")) + sorted((REPO_ROOT / "tests").rglob("__snapshots__/**/*.yaml"))
    objects = yaml_documents(paths)
    assert len(objects) > 100
    for obj in objects:
        assert _emitted(obj) == to_yaml_pyyaml(obj)


def test_every_object_of_the_bench_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy

    from mlkube.core.synth import synthesize

    monkeypatch.setenv("MLKUBE_BENCH_APPS", "3")
    platform = runpy.run_path(str(REPO_ROOT / "bench" / "platform_app.py"))["platform"]
    result = synthesize(platform, tmp_path / "dist")
    assert len(result.manifests) >= 36
    for manifest in result.manifests:
        assert _emitted(manifest.obj) == to_yaml_pyyaml(manifest.obj)


@st.composite
def _texts(draw: st.DrawFn) -> str:
    alphabet = st.sampled_from(list(string.ascii_letters + string.digits + " -_./:#'\"\n\t!&*?|>%@`{}[],=~\\") + ["é", "ü", "\u2028", "\x85", "\ufeff", "😀", "\x07"])
    special = st.sampled_from(["", " ", "yes", "No", "ON", "null", "~", "true", "1", "0x1F", "1e3", ".inf", "-.5", "2024-01-01", "<<", "=",
                               "-", "- a", "a: b", "a #b", "#a", "a\n", "a\n\n", "\na", " a\nb", "a \nb", "a\n b", "12:30", "0o17", "+1",
                               "1_000", "0b101", "a" * 200, "x" * 5000])
    return draw(st.one_of(special, st.text(alphabet, max_size=30), st.text(max_size=12)))


_scalars = st.one_of(_texts(), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=True))
_keys = st.one_of(_texts(), st.sampled_from(["apiVersion", "kind", "metadata", "spec", "data", "a-b", "a.b/c"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)), max_leaves=25)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, min_size=1, max_size=6))
def test_generated_data_gives_pyyaml_bytes(obj: dict[str, Any]) -> None:
    assert to_yaml(obj) == to_yaml_pyyaml(obj)


@pytest.mark.parametrize("obj", [{"a": 1.5}, {"a": (1, 2)}, {1: "x"}, {"a": {"b": {2: 3}}}, {"x" * 200: 1}, {"a": "x" * 5000}])
def test_what_the_emitter_does_not_prove_goes_to_pyyaml(obj: dict[str, Any]) -> None:
    with contextlib.suppress(Unsupported):
        assert _emitted(obj) == to_yaml_pyyaml(obj)
    try:
        expected = to_yaml_pyyaml(obj)
    except yaml.YAMLError as error:  # PyYAML's safe dumper refuses tuples: so does to_yaml, with the same error
        with pytest.raises(type(error)):
            to_yaml(obj)
    else:
        assert to_yaml(obj) == expected


def test_a_long_script_is_written_as_its_literal_block_and_a_long_line_is_left_to_pyyaml() -> None:
    script = "\n".join(f"step_{i} = {i}" for i in range(600)) + "\n"
    assert len(script) > 4096
    obj = {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"args": ["python3", "-c", script]}]}}
    assert _emitted(obj) == to_yaml_pyyaml(obj)
    with pytest.raises(Unsupported):
        _emitted({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "a b " * 2000}})
