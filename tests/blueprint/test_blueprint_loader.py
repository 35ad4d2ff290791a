"""Loading blueprint files: valid files become specs; every error points at its line and column."""

from __future__ import annotations

import pytest
from blueprint_helpers import HEADER, problems_of, write

from mlkube import InferenceServiceSpec, MlkubeError
from mlkube.blueprint import load_blueprint_files, parse_blueprints
from mlkube.blueprint.source import MAX_COMMAND_NODES, MAX_DEPTH, MAX_FILE_BYTES, MAX_FILE_NODES, MAX_NODES

SERVER = HEADER + """\
workloads:
  server:
    kind: InferenceService
    image: ghcr.io/acme/sentiment:2.3.0
"""


def test_a_valid_blueprint_becomes_the_same_spec_as_in_python(tmp_path):
    path = write(tmp_path, SERVER + "    resources: {cpu: 1, memory: 2Gi}\n")
    [blueprint], problems = parse_blueprints(path)
    assert problems == []
    assert blueprint.app == "sentiment" and blueprint.environments is None
    [workload] = blueprint.workloads
    assert workload.id == "server" and workload.kind.name == "InferenceService"
    assert workload.spec == InferenceServiceSpec(image="ghcr.io/acme/sentiment:2.3.0", resources={"cpu": "1", "memory": "2Gi"})
    assert workload.where.endswith("mlkube.yaml:5:3")


def test_fails_when_a_nested_field_is_misspelled_with_its_line_and_a_suggestion(tmp_path):
    path = write(tmp_path, SERVER + "    resources:\n      cpu: 1\n      memroy: 2Gi\n")
    assert problems_of(path) == ["10:7 workloads.server.resources.memroy: unknown field 'memroy' | did you mean 'memory'?"]


def test_fails_when_a_value_has_the_wrong_type_showing_the_value(tmp_path):
    path = write(tmp_path, SERVER + "    port: eighty\n")
    assert problems_of(path) == ["8:11 workloads.server.port: Input should be a valid integer, "
                                 "unable to parse string as an integer (got 'eighty')"]


def test_fails_when_a_required_field_is_missing_at_its_mapping(tmp_path):
    path = write(tmp_path, HEADER + "workloads:\n  server:\n    kind: InferenceService\n    port: 9000\n")
    assert problems_of(path) == ["6:5 workloads.server.image: Field required with the kubernetes backend (the kserve backend can use its runtime's image)"]


def test_fails_when_the_kind_is_unknown_or_missing(tmp_path):
    path = write(tmp_path, HEADER + "workloads:\n  a:\n    kind: InferenceServce\n  b:\n    image: x:1\n")
    assert problems_of(path) == [
        "6:11 workloads.a.kind: unknown workload kind 'InferenceServce' | did you mean 'InferenceService'?",
        "8:5 workloads.b.kind: a workload needs a 'kind' | add kind: one of BatchJob, CheckpointVolume, GpuTrainingJob, InferenceService, ScheduledJob",
    ]


def test_fails_when_a_key_is_duplicated_naming_both_lines(tmp_path):
    path = write(tmp_path, SERVER + "    port: 9000\n    port: 9001\n")
    assert problems_of(path) == ["9:5 workloads.server.port: duplicate key 'port' | it is already set on line 8; keep one of them"]


def test_reports_every_error_of_a_file_together(tmp_path):
    path = write(tmp_path, """\
        apiVersion: mlkube.dev/v1alpha2
        kind: Blueprint
        app: Sentiment
        workloadz: {}
        workloads:
          server:
            kind: InferenceService
            image: ghcr.io/acme/x:1
            autoscaling: {minReplicas: 5, maxReplicas: 3}
            resources: {gpu: {count: 1.5}}
        """)
    assert problems_of(path) == [
        "1:13 apiVersion: Input should be 'mlkube.dev/v1alpha1' (got 'mlkube.dev/v1alpha2') | allowed: 'mlkube.dev/v1alpha1'",
        "3:6 app: String should match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' (got 'Sentiment') | must match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        "4:1 workloadz: unknown field 'workloadz' | did you mean 'workloads'?",
        "9:18 workloads.server.autoscaling: 'minReplicas' (5) must be less than or equal to 'maxReplicas' (3)",
        "10:30 workloads.server.resources.gpu.count: Input should be a valid integer, got a number with a fractional part (got 1.5)",
    ]
    with pytest.raises(MlkubeError) as raised:
        load_blueprint_files([path])
    assert raised.value.exit_code == 2 and len(raised.value.problems) == 5


def test_anchors_merge_keys_and_x_keys_share_settings(tmp_path):
    path = write(tmp_path, HEADER + (
        "x-server: &server\n"
        "  kind: InferenceService\n"
        "  image: ghcr.io/acme/sentiment:2.3.0\n"
        "  port: 80\n"
        "workloads:\n"
        "  small:\n"
        "    <<: *server\n"
        "    port: 9000\n"
        "  large:\n"
        "    <<: [*server]\n"))
    assert problems_of(path) == ["7:9 workloads.large.port: Input should be greater than or equal to 1024 (got 80)"]


def test_anchors_and_merge_keys_give_the_merged_spec(tmp_path):
    path = write(tmp_path, HEADER + "x-base: &base {kind: InferenceService, image: 'ghcr.io/a/b:1', port: 9000}\n"
                 "workloads:\n  a: {<<: *base, port: 9100}\n  b: *base\n")
    [blueprint], problems = parse_blueprints(path)
    assert problems == []
    assert [(w.id, w.spec.port) for w in blueprint.workloads] == [("a", 9100), ("b", 9000)]


def test_scalars_follow_yaml_1_2_so_yes_and_dates_stay_strings(tmp_path):
    path = write(tmp_path, SERVER + "    env: {VERBOSE: yes, SINCE: 2024-01-01, HEX: '0x1F'}\n    port: 0x2328\n")
    [blueprint], problems = parse_blueprints(path)
    assert problems == []
    spec = blueprint.workloads[0].spec
    assert spec.env == {"VERBOSE": "yes", "SINCE": "2024-01-01", "HEX": "0x1F"} and spec.port == 9000


def test_fails_when_a_key_is_not_a_string(tmp_path):
    path = write(tmp_path, SERVER + "    env: {1: one}\n")
    assert problems_of(path) == ['8:11 workloads.server.env: a key must be a string, got \'1\' | quote the key, e.g. "1": value']


def test_fails_when_a_custom_tag_is_used(tmp_path):
    path = write(tmp_path, SERVER + "    port: !port 9000\n")
    assert problems_of(path)[0].startswith("8:11 workloads.server.port: the YAML tag '!port' is not supported here")


def test_fails_when_a_number_is_too_large_to_read(tmp_path):
    path = write(tmp_path, SERVER + "    port: " + "9" * 5000 + "\n")
    assert problems_of(path)[0].startswith("8:11 workloads.server.port: the number cannot be read")


def test_fails_when_the_file_holds_no_blueprint(tmp_path):
    assert problems_of(write(tmp_path, "# nothing yet\n---\n")) == [" : the file holds no blueprint | "
                                                                    "start it with apiVersion: mlkube.dev/v1alpha1, kind: Blueprint, app: <name>"]


def test_fails_when_a_document_is_not_a_mapping(tmp_path):
    assert problems_of(write(tmp_path, "- a\n- b\n"))[0].startswith("1:1 : a blueprint must be a mapping, got list")


def test_fails_when_the_yaml_does_not_parse(tmp_path):
    assert problems_of(write(tmp_path, HEADER + "workloads: [\n"))[0].startswith("5:1 : not valid YAML")


def test_refuses_a_billion_laughs_document(tmp_path):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = write(tmp_path, HEADER + "x-laughs:\n" + "".join(f"  {line}\n" for line in lines))
    [problem] = problems_of(path)
    assert problem.startswith(f"1:1 : refused: the document expands to more than {MAX_NODES} values")


def test_refuses_a_self_referencing_alias(tmp_path):
    path = write(tmp_path, HEADER + "x-loop: &loop {<<: *loop}\n")
    assert len(problems_of(path)) >= 1  # an undefined alias while it is being defined, or the depth limit


def test_refuses_deep_nesting(tmp_path):
    nested = "".join("  " * level + f"k{level}:\n" for level in range(MAX_DEPTH + 2)) + "  " * (MAX_DEPTH + 2) + "v\n"
    [problem] = problems_of(write(tmp_path, HEADER + "x-deep:\n" + "".join("  " + line + "\n" for line in nested.splitlines())))
    assert problem == f"1:1 : refused: the document nests deeper than {MAX_DEPTH} levels | blueprints are small; remove the repeated aliases or the deep nesting"


def test_refuses_a_file_that_is_too_large(tmp_path):
    path = write(tmp_path, HEADER + "# " + "x" * MAX_FILE_BYTES + "\n")
    _, [problem] = parse_blueprints(path)
    assert problem.message.startswith("the file is too large")


def test_fails_when_a_file_does_not_exist(tmp_path):
    with pytest.raises(MlkubeError, match="no such file"):
        load_blueprint_files([tmp_path / "missing.yaml"])


def test_fails_when_two_files_define_the_same_app(tmp_path):
    first, second = write(tmp_path, SERVER, "a/mlkube.yaml"), write(tmp_path, SERVER, "b/mlkube.yaml")
    with pytest.raises(MlkubeError) as raised:
        load_blueprint_files([first, second])
    [problem] = raised.value.problems
    assert problem.where.endswith("b/mlkube.yaml:3:6") and "already defined at" in problem.message


_LAUGHS = ("x-laughs:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
           "  a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n"
           "  a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]\n  a3: [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]\n")


def test_limits_hold_per_file_not_only_per_document(tmp_path):
    # Each document stays under MAX_NODES; 800 of them took 70 s and 2 GB before the per-file limit.
    path = write(tmp_path, "---\n".join(HEADER.replace("sentiment", f"a{i}") + _LAUGHS for i in range(800)))
    _, problems = parse_blueprints(path)
    assert [p.message for p in problems] == [
        f"refused: the file expands to more than {MAX_FILE_NODES} values in all its documents (aliases counted at every use)"]


def test_limits_hold_per_command(tmp_path, monkeypatch):
    monkeypatch.setattr("mlkube.blueprint.source.MAX_COMMAND_NODES", 60_000)  # the real one is 500,000: a faster test
    paths = [write(tmp_path, HEADER.replace("sentiment", f"a{i}") + _LAUGHS, name=f"t{i}/mlkube.yaml") for i in range(9)]
    with pytest.raises(MlkubeError) as caught:
        load_blueprint_files(paths)
    assert "the blueprint files expand to more than 60000 values in all" in str(caught.value)
    assert MAX_COMMAND_NODES == 500_000
