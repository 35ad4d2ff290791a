"""`mlkube validate` reads manifests as the API server does (issue 17 items 1 and 4, issue 21 YAML bounds).

Each test here failed on the code before this change: Lists were not expanded, ReplicationController
pods were invisible, quantities in manifests were never parsed, duplicate keys were kept silently,
non-string keys crashed, malformed pod specs crashed the cross-object checks, one bad file stopped the
run, generateName was refused, "default" and no namespace differed, and an alias bomb ran unbounded.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from all_at_once import validate_manifests
from helpers import run_mlkube

from mlkube.kube.loader import ReadLimits, load_manifests_isolated
from mlkube.policy.engine import check_policy
from mlkube.validation import SchemaCatalog
from mlkube.validation.files import validate_files


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(*paths: Path, cross_object: str = "error") -> list[str]:
    manifests, unreadable = load_manifests_isolated(paths)
    problems, _, warnings = validate_manifests(manifests, SchemaCatalog(), tuple(paths), cross_object)
    found = [str(p) for p in unreadable + problems] + [f"warning: {w}" for w in warnings]
    # `mlkube validate` streams files (issue 22): every finding here is also the streamed one.
    streamed = validate_files(tuple(paths), SchemaCatalog(), cross_object)
    assert sorted(found) == sorted([str(p) for p in streamed.unreadable + streamed.problems]
                                   + [f"warning: {w}" for w in streamed.warnings])
    return found


def rule_ids(*paths: Path) -> set[str]:
    manifests, _ = load_manifests_isolated(paths)
    return {finding.rule.id for finding in check_policy(manifests).errors}


EVIL_POD = """\
  - apiVersion: v1
    kind: Pod
    metadata: {name: evil, namespace: team}
    spec:
      hostPID: true
      containers:
      - name: c
        image: busybox
        securityContext: {privileged: true}
"""


def test_list_items_are_schema_and_policy_checked_with_their_own_path(tmp_path):
    path = write(tmp_path, "list.yaml", "apiVersion: v1\nkind: List\nitems:\n" + EVIL_POD + "  - apiVersion: v1\n    kind: ConfigMap\n"
                 "    metadata: {name: c}\n    dataa: {}\n")
    assert {"MLK-PSS-001", "MLK-PSS-002"} <= rule_ids(path)
    problems = problems_of(path)
    assert f"{path}:16: dataa: ConfigMap/c (List items[1]): unknown field 'dataa'; did you mean 'data'?" in problems


def test_typed_lists_give_their_items_a_kind(tmp_path):
    # apimachinery decodeToList: an item with neither kind nor apiVersion takes them from the list.
    path = write(tmp_path, "pods.yaml", "apiVersion: v1\nkind: PodList\nitems:\n"
                 + EVIL_POD.replace("  - apiVersion: v1\n    kind: Pod\n    ", "  - "))
    manifests, _ = load_manifests_isolated([path])
    assert [(m.kind, m.name, m.parent) for m in manifests] == [("Pod", "evil", "items[0]")]
    assert "MLK-PSS-002" in rule_ids(path)


RC = """\
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  selector: {app: rc}
  template:
    metadata: {labels: {app: rc}}
    spec:
      containers:
      - name: c
        image: busybox
        securityContext: {privileged: true}
        resources: {limits: {nvidia.com/gpu: "0.5"}}
---
apiVersion: v1
kind: Service
metadata: {name: rc}
spec:
  selector: {app: rc}
  ports: [{port: 80}]
"""


def test_replication_controller_pods_are_seen_by_policy_and_cross_object_checks(tmp_path):
    path = write(tmp_path, "rc.yaml", RC)
    assert "MLK-PSS-001" in rule_ids(path)
    problems = problems_of(path)
    assert not any("selects no pods" in p for p in problems)  # the Service finds the RC's pods
    assert any("nvidia.com/gpu must be a whole number of devices" in p for p in problems)


@pytest.mark.parametrize("value", ["aoeu", "1.1.M", "0.1mi", "", "١", "1e999999999", "-1Gi"])
def test_quantities_in_manifests_are_parsed_as_the_api_server_does(tmp_path, value):
    path = write(tmp_path, "pod.yaml", f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: p}}
        spec:
          containers:
          - name: c
            image: busybox
            resources: {{requests: {{memory: "{value}"}}}}
        """)
    [problem] = problems_of(path)
    assert f"{path}:8: spec.containers[0].resources.requests.memory: " in problem
    assert "Traceback" not in problem


@pytest.mark.parametrize(("kind", "body", "field"), [
    ("PersistentVolumeClaim", "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: -10Gi}}}",
     "spec.resources.requests.storage"),
    ("Pod", "spec: {containers: [{name: c, image: i}], volumes: [{name: shm, emptyDir: {medium: Memory, sizeLimit: -1Gi}}]}",
     "spec.volumes[0].emptyDir.sizeLimit"),
    ("Pod", "spec: {containers: [{name: c, image: i}], overhead: {cpu: '-1'}}", "spec.overhead.cpu"),
    ("LimitRange", "spec: {limits: [{type: Container, max: {memory: 1.1.M}}]}", "spec.limits[0].max.memory"),
    ("ResourceQuota", "spec: {hard: {requests.cpu: 0.1mi}}", "spec.hard.requests.cpu"),
])
def test_every_quantity_typed_field_is_checked(tmp_path, kind, body, field):
    path = write(tmp_path, "obj.yaml", f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: x}}\n{body}\n")
    problems = problems_of(path)
    assert any(f": {field}: " in p for p in problems), problems


def test_good_quantities_pass(tmp_path):
    path = write(tmp_path, "pod.yaml", """\
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          overhead: {cpu: 250m}
          containers:
          - name: c
            image: busybox
            resources: {requests: {cpu: 0.5, memory: 1.5Gi, ephemeral-storage: 1e9}, limits: {cpu: "1.", memory: " 2Gi"}}
        """)
    assert problems_of(path) == []


def test_duplicate_keys_are_errors_with_file_and_line(tmp_path):
    path = write(tmp_path, "dup.yaml", """\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: a, image: busybox}]
              containers: [{name: b, image: busybox}]
        """)
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:10: duplicate key 'containers' (first on line 9)")


def test_non_string_keys_become_strings_as_in_json(tmp_path):
    path = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  5: five\n  true: yes-string\n"
                 "  0x10: hex\n  1.5: float\n")
    manifests, unreadable = load_manifests_isolated([path])
    assert unreadable == []
    assert manifests[0].obj["data"] == {"5": "five", "true": "yes-string", "16": "hex", "1.5": "float"}
    assert problems_of(path) == []


def test_null_and_collection_keys_are_clear_errors(tmp_path):
    path = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  ~: x\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:5: a null key cannot become a JSON key")


MALFORMED = [
    "spec: {template: []}",
    "spec: {template: {spec: {containers: x}}}",
    "spec: {template: {spec: {containers: [5, {name: c, resources: 5}, {name: d, resources: {limits: [1]}}]}}}",
    "spec: {template: {metadata: {labels: [a]}, spec: {containers: [{name: c, ports: 5, securityContext: [1]}],"
    " volumes: 3, securityContext: {sysctls: x}}}}",
    "spec: {template: {spec: {containers: [{name: c, resources: {limits: {nvidia.com/gpu: [1]}, requests: {nvidia.com/gpu: {}}}}]}}}",
]


@pytest.mark.parametrize("spec", MALFORMED)
def test_malformed_pod_specs_never_crash_the_checks(tmp_path, spec):
    path = write(tmp_path, "bad.yaml", f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\n{spec}\n---\n"
                 "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {app: x}, ports: [{port: 80}]}\n")
    problems_of(path)  # schema problems, but no exception
    rule_ids(path)


def test_one_bad_file_never_stops_the_others(tmp_path):
    write(tmp_path, "a.yaml", "apiVersion: v1\nkind: [unclosed\n")
    write(tmp_path, "b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndataa: {}\n")
    result = run_mlkube("validate", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert f"{tmp_path}/a.yaml:3:1: not valid YAML" in result.stderr
    assert f"{tmp_path}/b.yaml:4: dataa: ConfigMap/c: unknown field 'dataa'" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_name_without_name_is_accepted(tmp_path):
    path = write(tmp_path, "job.yaml", """\
        apiVersion: batch/v1
        kind: Job
        metadata: {generateName: train-}
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{name: c, image: busybox}]
        ---
        apiVersion: batch/v1
        kind: Job
        metadata: {generateName: train-}
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{name: c, image: busybox}]
        """)
    assert problems_of(path) == []
    bad = write(tmp_path, "bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: Bad_}\n")
    assert any("generateName 'Bad_' is not a DNS-1123 subdomain" in p for p in problems_of(bad))


def test_default_namespace_and_no_namespace_are_the_same(tmp_path):
    path = write(tmp_path, "web.yaml", """\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec: {containers: [{name: web, image: busybox}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: default}
        spec: {selector: {app: web}, ports: [{port: 80}]}
        ---
        apiVersion: autoscaling/v2
        kind: HorizontalPodAutoscaler
        metadata: {name: web, namespace: default}
        spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, maxReplicas: 2}
        """)
    assert problems_of(path) == []


def test_cross_object_checks_can_be_warnings_or_off_for_a_partial_set(tmp_path):
    path = write(tmp_path, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n")
    assert any("selects no pods" in p for p in problems_of(path))
    assert [p for p in problems_of(path, cross_object="warn") if not p.startswith("warning: ")] == []
    assert problems_of(path, cross_object="off") == []
    result = run_mlkube("validate", "--cross-object=warn", str(path))
    assert result.returncode == 0 and "warning: " in result.stderr and "selects no pods" in result.stderr


def test_cron_schedules_in_manifests_follow_the_api_server(tmp_path):
    body = "spec: {{schedule: '{}', jobTemplate: {{spec: {{template: {{spec: {{restartPolicy: Never, containers: [{{name: c, image: i}}]}}}}}}}}}}"
    good = write(tmp_path, "good.yaml", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\n" + body.format("@every 5m") + "\n")
    bad = write(tmp_path, "bad.yaml", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: d}\n" + body.format("@DAILY") + "\n")
    assert problems_of(good) == []
    assert any("spec.schedule: schedule '@DAILY' is not a known macro" in p for p in problems_of(bad))


BOMB = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: bomb}
x: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]
"""


def _bomb(levels: int) -> str:
    lines = [BOMB]
    for level in range(1, levels):
        lines.append(f"x{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]\n")
    return "".join(lines)


def test_an_alias_bomb_is_refused_quickly_without_quoting_it(tmp_path):
    path = write(tmp_path, "bomb.yaml", _bomb(9))  # 10^9 values once expanded, under 1 KiB written
    started = time.perf_counter()
    result = run_mlkube("validate", str(path))
    assert time.perf_counter() - started < 30
    assert result.returncode == 2
    assert "refused: the document expands to more than 1000000 values" in result.stderr
    assert "lol" not in result.stderr and "Traceback" not in result.stderr


def test_limits_hold_per_file_and_per_command_not_per_document(tmp_path):
    document = _bomb(5)  # 100,000 values: under the per-document limit
    path = write(tmp_path, "many.yaml", "---\n".join(document.replace("bomb", f"b{i}") for i in range(12)))
    _, unreadable = load_manifests_isolated([path])
    assert [p.message for p in unreadable] == [
        "refused: the file expands to more than 1000000 values or 67108864 characters in all (aliases counted at every use)"]
    small = [write(tmp_path, f"f{i}.yaml", document.replace("bomb", f"c{i}")) for i in range(3)]
    _, unreadable = load_manifests_isolated(small, ReadLimits(command_values=250_000))
    assert [p.message for p in unreadable] == ["refused: the files of this command expand to more than 250000 values in all"]


def test_schema_errors_never_quote_an_expanded_value(tmp_path):
    path = write(tmp_path, "cm.yaml", _bomb(4).replace("kind: ConfigMap\n", "kind: ConfigMap\ndata: *a3\n").replace("x:", "xx:"))
    problems = problems_of(path)
    assert problems and all("lol" not in p for p in problems), problems


def test_timestamps_and_equals_signs_stay_strings(tmp_path):
    path = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  when: 2024-01-01\n  eq: =\n"
                 "  2024-01-02: date key\n")
    manifests, unreadable = load_manifests_isolated([path])
    assert unreadable == [] and manifests[0].obj["data"] == {"when": "2024-01-01", "eq": "=", "2024-01-02": "date key"}
    assert problems_of(path) == []


def test_list_items_written_on_one_line_keep_their_own_identity(tmp_path):
    path = write(tmp_path, "list.yaml", "apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Service, metadata: {name: a},"
                 " spec: {selector: {app: a}, ports: [{port: 80}]}}, {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}]\n")
    [problem] = problems_of(path)
    assert "Service/a (List items[0]): Service 'a' selects no pods" in problem


def test_plain_scalars_resolve_as_go_yaml_v2_does(tmp_path):
    # kubectl and the API server read YAML with sigs.k8s.io/yaml (go-yaml v2), not YAML 1.1 as PyYAML does.
    path = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  time: 1:30\n"
                 "  y: \"key y is a boolean\"\n")
    manifests, _ = load_manifests_isolated([path])
    assert manifests[0].obj["data"] == {"time": "1:30", "true": "key y is a boolean"}
    assert problems_of(path) == []  # PyYAML read 1:30 as the integer 90, which a ConfigMap refuses
    flag = write(tmp_path, "flag.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {enabled: y}\n")
    assert any("data.enabled" in p and "is not of type 'string'" in p for p in problems_of(flag))  # y is true for go-yaml
    scaled = write(tmp_path, "deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 1e1\n"
                   "  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n"
                   "    spec: {containers: [{name: c, image: i}]}\n")
    assert problems_of(scaled) == []  # 1e1 is the number 10 for go-yaml, a string for PyYAML


def test_environments_of_a_config_repo_are_separate_clusters_at_any_depth(tmp_path):
    import shutil

    from helpers import REPO_ROOT

    for environment in ("dev", "prod"):  # the same names in both environments are not duplicates
        shutil.copytree(REPO_ROOT / "dist" / environment, tmp_path / "repo" / "dist" / environment)
    problems = problems_of(tmp_path / "repo")
    assert not any("defined twice" in p for p in problems), problems[:3]


def test_a_folder_without_yaml_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_mlkube("validate", str(tmp_path / "empty"))
    assert result.returncode == 2 and "holds no YAML files" in result.stderr


def test_messages_that_quote_values_are_bounded(tmp_path):
    path = write(tmp_path, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n"
                 "  selector: {" + ", ".join(f"k{i}: v{i}" for i in range(200)) + "}\n  ports: [{port: 80}]\n")
    [problem] = problems_of(path)
    assert "selects no pods" in problem and problem.endswith("... (shortened)\n    hint: make the selector match the pod template labels")


def test_values_of_other_yaml_tags_become_json_values_not_a_crash(tmp_path):
    path = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  b: !!binary aGVsbG8=\n"
                 "  t: !!timestamp 2001-12-14\n  s: !!str 5\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n"
                 "data: !!set {a}\n")
    manifests, unreadable = load_manifests_isolated([path])
    assert unreadable == []
    assert [m.obj["data"] for m in manifests] == [{"b": "hello", "t": "2001-12-14T00:00:00Z", "s": "5"}, {"a": None}]
    result = run_mlkube("validate", str(path))
    assert result.returncode == 0 and "Traceback" not in result.stderr


def test_documents_are_bounded_per_command(tmp_path):
    files = [write(tmp_path, f"f{i}.yaml", "---\n".join(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}-{j}}}\n"
                                                         for j in range(4))) for i in range(3)]
    _, unreadable = load_manifests_isolated(files, ReadLimits(command_documents=10))
    assert [p.message for p in unreadable] == ["refused: the files of this command hold more than 10 documents or "
                                               "536870912 characters in all"]


def test_a_malformed_jobset_is_reported_not_a_crash(tmp_path):
    # Found by test_malformed_fuzz: the JobSet webhook defaults read spec.failurePolicy without checking its shape.
    path = write(tmp_path, "js.yaml", "apiVersion: jobset.x-k8s.io/v1alpha2\nkind: JobSet\nmetadata: {name: j}\nspec: 5\n")
    assert problems_of(path)
