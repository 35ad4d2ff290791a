"""Incremental synth (mlkube.incremental): the cache and the parallel workers never change the output (issue 22).

Every test compares the cached (or parallel) tree with an uncached serial one byte for byte.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from helpers import REPO_ROOT, run_mlkube

from mlkube import CheckpointVolume, Environment, GpuTrainingJob, InferenceService, Platform
from mlkube.incremental import parallel, steps, store
from mlkube.kube.manifest import Manifest
from mlkube.policy.engine import check_policy
from mlkube.policy.model import PolicySettings

IMAGE = "ghcr.io/acme/model-{index}:{tag}"


def platform(out_dir: Path, apps: int = 3, changed: int | None = None, environments=("dev", "prod")) -> Platform:
    """Apps of a server, a training job and a volume (policy warns about unpinned images)."""
    result = Platform(environments=[Environment(name=name, namespace=f"{name}-{{app}}",
                                                network={"egress_https_cidrs": ["0.0.0.0/0"]}) for name in environments],
                      out_dir=out_dir)
    for index in range(apps):
        def build(app, index=index):  # type: ignore[no-untyped-def]
            volume = CheckpointVolume(app, "checkpoints", size="10Gi", access_mode="ReadWriteMany")
            GpuTrainingJob(app, "train", image=f"ghcr.io/acme/trainer-{index}:1.0", nodes=2,
                           resources={"cpu": "8", "memory": "64Gi", "gpu": {"count": 8}}).mount(volume)
            InferenceService(app, "server", image=IMAGE.format(index=index, tag="1.1" if index == changed else "1.0"),
                             model=f"s3://models/m{index}/v1", resources={"cpu": "2", "memory": "4Gi"})
        result.app(f"app-{index}", build)
    return result


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def inodes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_ino for p in sorted(folder.rglob("*.yaml"))}


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(store.CACHE_ENV, str(folder))
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    monkeypatch.delenv(store.NO_CACHE_ENV, raising=False)
    return folder


def uncached(out_dir: Path, monkeypatch, **options) -> tuple[dict[str, bytes], list[str]]:
    with monkeypatch.context() as patch:
        patch.setenv(store.NO_CACHE_ENV, "1")
        patch.setenv(parallel.JOBS_ENV, "1")
        result = platform(out_dir, **options).synthesize()
    return tree(out_dir), result.warnings


def test_a_cold_cache_gives_the_uncached_bytes(tmp_path, cache, monkeypatch):
    expected, warnings = uncached(tmp_path / "plain", monkeypatch)
    result = platform(tmp_path / "dist").synthesize()
    assert tree(tmp_path / "dist") == expected
    assert result.warnings == warnings and any("MLK-IMG-001" in text for text in warnings)
    assert steps.STATS["reused"] == 0
    assert list(cache.glob("synth-*.sqlite3")), "the cache lives outside the output folder"
    assert not [p for p in (tmp_path / "dist").rglob("*") if "sqlite" in p.name]


def test_an_unchanged_resynth_reuses_every_object_and_rewrites_no_file(tmp_path, cache, monkeypatch):
    """Issue 22: a re-synth cost a full synth. Now every object's results come from the cache, and no file is
    written again (the same inode and mtime: the new tree links the old files)."""
    expected, warnings = uncached(tmp_path / "plain", monkeypatch)
    platform(tmp_path / "dist").synthesize()
    before = inodes(tmp_path / "dist")
    result = platform(tmp_path / "dist").synthesize()
    assert steps.STATS["reused"] == steps.STATS["objects"] == len(result.manifests)
    assert tree(tmp_path / "dist") == expected
    assert result.warnings == warnings
    assert inodes(tmp_path / "dist") == before


def test_one_changed_app_gives_the_uncached_bytes_and_rewrites_only_its_files(tmp_path, cache, monkeypatch):
    expected, warnings = uncached(tmp_path / "plain", monkeypatch, changed=1)
    platform(tmp_path / "dist").synthesize()
    before = inodes(tmp_path / "dist")
    result = platform(tmp_path / "dist", changed=1).synthesize()
    assert tree(tmp_path / "dist") == expected
    assert result.warnings == warnings
    after = inodes(tmp_path / "dist")
    rewritten = sorted(path for path in after if before.get(path) != after[path])
    assert rewritten and all("/app-1/" in path for path in rewritten), rewritten
    assert "dev/app-1/deployment-server.yaml" in rewritten
    assert 0 < steps.STATS["reused"] < steps.STATS["objects"]


def test_a_changed_mlkube_or_schema_package_reuses_nothing(tmp_path, cache, monkeypatch):
    """The cache is keyed by mlkube's fingerprint (its files, the schema and YAML packages, Python)."""
    platform(tmp_path / "dist").synthesize()
    platform(tmp_path / "dist").synthesize()
    assert steps.STATS["reused"] == steps.STATS["objects"]
    real = store.fingerprint()
    monkeypatch.setattr(store, "fingerprint", lambda: real + "-newer")
    platform(tmp_path / "dist").synthesize()
    assert steps.STATS["reused"] == 0


def test_a_touched_mlkube_file_changes_the_fingerprint(tmp_path, monkeypatch):
    before = store.fingerprint()
    source = Path(store.__file__)
    stat = source.stat()
    try:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert store.fingerprint() != before
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_changed_environment_setting_reuses_nothing_of_that_environment(tmp_path, cache, monkeypatch):
    platform(tmp_path / "dist").synthesize()
    changed = Platform(environments=[Environment(name="dev", namespace="dev-{app}", network={"egress_https_cidrs": ["0.0.0.0/0"]},
                                                 allowed_registries=("ghcr.io/acme/", "kserve/"))], out_dir=tmp_path / "dist")
    changed.app("app-0", lambda app: InferenceService(app, "server", image=IMAGE.format(index=0, tag="1.0"),
                                                       model="s3://models/m0/v1", resources={"cpu": "2", "memory": "4Gi"}))
    changed.synthesize()
    assert steps.STATS["reused"] == 0


def test_a_corrupted_cache_file_is_ignored_not_fatal(tmp_path, cache, monkeypatch):
    expected, _ = uncached(tmp_path / "plain", monkeypatch)
    platform(tmp_path / "dist").synthesize()
    (database,) = cache.glob("synth-*.sqlite3")
    database.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    result = platform(tmp_path / "dist").synthesize()
    assert tree(tmp_path / "dist") == expected
    assert any("synth cache" in text and "could not be read" in text for text in result.warnings)
    platform(tmp_path / "dist").synthesize()  # started again: the next synth reuses
    assert steps.STATS["reused"] == steps.STATS["objects"]


def test_damaged_results_are_computed_again(tmp_path, cache, monkeypatch):
    expected, warnings = uncached(tmp_path / "plain", monkeypatch)
    platform(tmp_path / "dist").synthesize()
    (database,) = cache.glob("synth-*.sqlite3")
    with sqlite3.connect(database) as connection:  # what the results say no longer matches their checksum
        connection.execute("""UPDATE objects SET checks = replace(checks, '"apiserver":true', '"apiserver":false')""")
    result = platform(tmp_path / "dist").synthesize()
    assert steps.STATS["reused"] == 0
    assert tree(tmp_path / "dist") == expected and result.warnings == warnings


def test_damaged_yaml_is_rendered_again(tmp_path, cache, monkeypatch):
    """The YAML has a checksum of its own, checked when a file that cannot be linked is written from it: the results
    of the row are still used, the YAML is not."""
    expected, _ = uncached(tmp_path / "plain", monkeypatch)
    platform(tmp_path / "dist").synthesize()
    (database,) = cache.glob("synth-*.sqlite3")
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE objects SET yaml = CAST('kind: Evil' AS BLOB)")
        connection.execute("DELETE FROM files")  # so the files must be written again, not linked
    platform(tmp_path / "dist").synthesize()
    assert steps.STATS["reused"] == steps.STATS["objects"]
    assert tree(tmp_path / "dist") == expected


def test_a_hand_edited_file_is_written_again(tmp_path, cache, monkeypatch):
    expected, _ = uncached(tmp_path / "plain", monkeypatch)
    platform(tmp_path / "dist").synthesize()
    edited = tmp_path / "dist/dev/app-0/deployment-server.yaml"
    text = edited.read_bytes()
    edited.write_bytes(text.replace(b"replicas: 1", b"replicas: 9"))  # same size, in place
    platform(tmp_path / "dist").synthesize()
    assert tree(tmp_path / "dist") == expected


def test_no_cache_neither_reads_nor_writes_it(tmp_path, cache, monkeypatch):
    monkeypatch.setenv(store.NO_CACHE_ENV, "1")
    platform(tmp_path / "dist").synthesize()
    assert not cache.exists() or not list(cache.iterdir())


def test_parallel_workers_give_the_serial_bytes(tmp_path, cache, monkeypatch):
    """Issue 22: environments were synthesized in one process. With --jobs 2 the per-object work runs in forked
    workers (here from 1 object per worker up); the tree, the warnings and the problems are the serial ones."""
    expected, warnings = uncached(tmp_path / "plain", monkeypatch, environments=("dev", "staging", "prod"))
    monkeypatch.setenv(store.NO_CACHE_ENV, "1")
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(parallel, "MIN_ITEMS_PER_JOB", 1)
    result = platform(tmp_path / "dist", environments=("dev", "staging", "prod")).synthesize()
    assert steps.STATS["jobs"] == 2
    assert tree(tmp_path / "dist") == expected
    assert result.warnings == warnings


def _with_a_leaked_token(result: Platform) -> Platform:
    result.app("leaky", lambda app: InferenceService(app, "server", image="ghcr.io/acme/x:1.0",
                                                      config={"API_TOKEN": "ghp_" + "a1B2" * 9}))
    return result


def _serial_then_parallel_failures(tmp_path, monkeypatch, broken, *, cache: bool):  # type: ignore[no-untyped-def]
    """The error of a serial uncached synth of ``broken(tmp_path / "a")``, then that of one in 2 processes (1 object
    per chunk up) of ``broken(tmp_path / "b")``, with or without the cache."""
    from mlkube import MlkubeError

    monkeypatch.setenv(store.NO_CACHE_ENV, "1")
    with pytest.raises(MlkubeError) as serial:
        broken(tmp_path / "a").synthesize()
    if cache:
        monkeypatch.delenv(store.NO_CACHE_ENV)
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(parallel, "MIN_ITEMS_PER_JOB", 1)
    with pytest.raises(MlkubeError) as forked:
        broken(tmp_path / "b").synthesize()
    assert steps.STATS["jobs"] == 2
    return serial.value, forked.value


def test_parallel_workers_report_the_serial_problems(tmp_path, cache, monkeypatch):
    serial, forked = _serial_then_parallel_failures(tmp_path, monkeypatch, lambda out: _with_a_leaked_token(platform(out)),
                                                    cache=False)
    assert "MLK-SEC-009" in str(serial)
    assert str(forked).replace("/b", "/a") == str(serial)


def test_a_parallel_synth_keeps_the_schema_results_found_while_the_workers_ran(tmp_path, cache, monkeypatch):
    """The schema check runs while the workers compute (parallel.py): what it found for an object a worker computed
    is kept with the worker's entry, so a re-synth validates nothing again."""
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(parallel, "MIN_ITEMS_PER_JOB", 1)
    platform(tmp_path / "dist", apps=6).synthesize()
    assert steps.STATS["jobs"] == 2
    (database,) = cache.glob("synth-*.sqlite3")
    with sqlite3.connect(database) as connection:
        rows = [store.Entry.from_row(yaml, checks) for yaml, checks in connection.execute("SELECT yaml, checks FROM objects")]
    assert len(rows) > 40
    assert all(row.schema_clean for row in rows), f"{sum(not row.schema_clean for row in rows)} of {len(rows)} lost their schema result"
    assert all(row.apiserver_clean and row.policy_rereads is not None and row.has_yaml for row in rows)


def test_shared_work_computes_every_item_once_across_the_processes():
    """Forked workers and this process claim chunks from one pipe: every item is computed once, whoever claims it."""
    done: list[tuple[int, int]] = []

    def work(items):  # type: ignore[no-untyped-def]
        return [(item, os.getpid()) for item in items]

    shared = parallel.start_shared_work(list(range(5000)), work, 3, done.append, minimum=1)
    assert shared.processes == 3
    shared.finish()
    shared.finish()  # once only
    assert sorted(item for item, _ in done) == list(range(5000))


def test_more_chunks_than_a_pipe_holds_are_computed_here(monkeypatch):
    """Chunk numbers a pipe cannot hold before anyone reads would block; this process then computes every chunk."""
    monkeypatch.setattr(parallel, "MAX_CHUNKS", 100_000)
    monkeypatch.setattr(parallel, "CHUNKS_PER_JOB", 100_000)
    done: list[int] = []
    shared = parallel.start_shared_work(list(range(60_000)), lambda items: list(items), 2, done.append, minimum=1)
    assert shared.processes == 1  # 60,000 records (240 KB) do not fit: no worker was started
    shared.finish()
    assert done == list(range(60_000))


def test_a_worker_that_dies_leaves_its_chunks_to_the_steps(tmp_path, cache, monkeypatch):
    """A worker killed mid-way sends what it had; what it claimed but did not send is computed by the steps here."""
    expected, warnings = uncached(tmp_path / "plain", monkeypatch, environments=("dev", "staging", "prod"))
    monkeypatch.setenv(store.NO_CACHE_ENV, "1")
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(parallel, "MIN_ITEMS_PER_JOB", 1)
    original = parallel._fork_claiming

    def dying(claims, items, chunks, work):  # type: ignore[no-untyped-def]
        def die_after_one_chunk(piece):  # type: ignore[no-untyped-def]
            for number, result in enumerate(work(piece)):
                if number == 3 and os.getpid() != parent:
                    os._exit(9)
                yield result
        return original(claims, items, chunks, die_after_one_chunk)

    parent = os.getpid()
    monkeypatch.setattr(parallel, "_fork_claiming", dying)
    result = platform(tmp_path / "dist", environments=("dev", "staging", "prod")).synthesize()
    assert tree(tmp_path / "dist") == expected
    assert result.warnings == warnings


def test_checks_that_run_while_the_workers_compute_report_in_pipeline_order(tmp_path, cache, monkeypatch):
    """The override typo check runs before the policy check waits for the workers (core/synth.py ``check``); its
    problem is still reported after the policy's, as a serial synth reports them."""
    def broken(out_dir: Path) -> Platform:
        result = Platform(environments=[Environment(name="dev", namespace="dev-{app}", overrides={"nowhere/server": {"replicas": 2}},
                                                    network={"egress_https_cidrs": ["0.0.0.0/0"]})], out_dir=out_dir)
        for index in range(4):
            result.app(f"app-{index}", lambda app: InferenceService(app, "server", image="ghcr.io/acme/x:1.0"))
        return _with_a_leaked_token(result)

    serial, forked = _serial_then_parallel_failures(tmp_path, monkeypatch, broken, cache=True)
    messages = [problem.message for problem in serial.problems]  # in the order found (the report sorts them)
    policy = next(index for index, text in enumerate(messages) if "MLK-SEC-009" in text)
    assert policy < next(index for index, text in enumerate(messages) if "no construct 'nowhere/server'" in text)
    assert [problem.message for problem in forked.problems] == messages


def test_independent_checks_run_before_the_waiting_ones_up_to_a_users_check():
    from mlkube.core.pipeline import execution_order, independent_check, waits_for_parallel_results

    def step(name, mark=None):  # type: ignore[no-untyped-def]
        def run(ctx):  # type: ignore[no-untyped-def]
            return None
        run.__name__ = name
        return mark(run) if mark else run

    checks = [step("schemas"), step("policy", waits_for_parallel_results), step("connectivity", independent_check),
              step("users"), step("apiserver", waits_for_parallel_results), step("tenancy", independent_check)]
    assert [checks[index].__name__ for index in execution_order(checks)] == [
        "schemas", "connectivity", "policy", "users", "tenancy", "apiserver"]


def test_jobs_default_to_the_cpus_available(monkeypatch):
    monkeypatch.delenv(parallel.JOBS_ENV, raising=False)
    assert parallel.job_count() == len(os.sched_getaffinity(0))
    monkeypatch.setenv(parallel.JOBS_ENV, "3")
    assert parallel.job_count() == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    monkeypatch.delenv(parallel.JOBS_ENV)
    assert parallel.job_count() == 1


def _pod(name: str, namespace: str = "ml") -> Manifest:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
           "spec": {"selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "main", "image": "ghcr.io/acme/x:1.0"}]}}}}
    return Manifest(obj, f"dev/ml/{name}", "dev", "ml")


def _policy(name: str, namespace: str = "ml") -> Manifest:
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace},
           "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    return Manifest(obj, f"dev/ml/{name}", "dev", "ml")


def _findings(report) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    return [(f.rule.id, f.manifest.where, f.field, f.message) for f in report.findings]


def test_policy_rules_that_read_the_neighbours_run_again():
    """A Deployment unchanged between two synths, its NetworkPolicy added in the second: the coverage rule
    (which reads the neighbours) is not taken from the cache; the object-only rules are."""
    from mlkube.incremental.policy import check_policy_incremental

    settings = PolicySettings()
    memory = store.ObjectStore(None, {"dev": b"context"})
    first = [_pod("server")]
    memory.prepare(first)
    report = check_policy_incremental(first, settings, memory)
    assert _findings(report) == _findings(check_policy(first, settings))
    assert "MLK-NET-001" in {f.rule.id for f in report.findings}
    entry = memory.entry(first[0])
    assert entry is not None and entry.policy_rereads == ("MLK-NET-001",)
    assert entry.policy_hits and "MLK-NET-001" not in entry.policy_hits

    second = [first[0], _policy("default-deny")]
    memory.entries, memory.computed = dict(memory.computed), {}
    memory.prepare(second)
    again = check_policy_incremental(second, settings, memory)
    assert _findings(again) == _findings(check_policy(second, settings))
    assert "MLK-NET-001" not in {f.rule.id for f in again.findings}


def test_the_example_platform_through_the_cli_cached_parallel_and_plain(tmp_path):
    """`mlkube synth` of apps/: cold cache with workers, warm cache, and --no-cache --jobs 1 write the same tree."""
    env = {store.CACHE_ENV: str(tmp_path / "cache")}
    outputs = []
    for name, flags in (("cold", ["--jobs", "2"]), ("warm", ["--jobs", "2"]), ("plain", ["--no-cache", "--jobs", "1"])):
        out = tmp_path / ("dist" if name != "plain" else "plain")
        result = run_mlkube("synth", "--out", str(out), *flags, cwd=REPO_ROOT, env=env)
        assert result.returncode == 0, result.stderr
        outputs.append(tree(out))
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0] == {path: data for path, data in tree(REPO_ROOT / "dist").items() if path in outputs[0]}


def test_a_connection_group_is_keyed_by_its_namespaces_objects_and_its_connections():
    """A group (sender's namespace, receiver's namespace) is clean again only for the same objects in those two
    namespaces, the same Namespace objects and the same connections; an object of a third namespace does not matter."""
    from mlkube.core.network.model import Connection, Endpoint, PortRange
    from mlkube.incremental.connectivity import changed_connection_problems

    def keys(objects: list[Manifest], connections: list[Connection]) -> set[str] | None:
        memory = store.ObjectStore(None, {"dev": b"context"})
        memory.prepare(objects)
        if changed_connection_problems(memory, objects, connections, {"ml", "other"}) is None:
            return None
        return memory.clean_now

    def call(port: int) -> Connection:
        return Connection(Endpoint.pods("ml", {"app": "client"}), Endpoint.pods("ml", {"app": "server"}), (PortRange(port),),
                          "calls", "dev/ml/server")

    objects = [_pod("server"), _policy("default-deny", namespace="other")]
    key = keys(objects, [call(8080)])
    assert key is not None and len(key) == 1
    assert key == keys(objects, [call(8080)])
    assert key != keys(objects, [call(9090)])  # another connection
    assert key != keys([_pod("server"), _pod("client"), objects[1]], [call(8080)])  # another object in 'ml'
    assert key == keys([objects[0], _policy("default-deny", namespace="other"), _pod("elsewhere", namespace="other")], [call(8080)])
    unknown = store.ObjectStore(None, {"prod": b"context"})  # no digest for a dev object: the caller checks everything
    unknown.prepare(objects)
    assert changed_connection_problems(unknown, objects, [call(8080)], {"ml"}) is None


def _checked_connections(monkeypatch) -> list[str]:
    """The declared connections the connectivity check looks at (each ``declared_by``), as synth asks."""
    from mlkube.traffic import check

    checked: list[str] = []
    real = check.connection_verdicts
    monkeypatch.setattr(check, "connection_verdicts", lambda connections, *rest: real(
        [checked.append(c.declared_by) or c for c in connections], *rest))
    return checked


def test_an_unchanged_environment_skips_the_connectivity_check(tmp_path, cache, monkeypatch):
    checked = _checked_connections(monkeypatch)
    platform(tmp_path / "dist").synthesize()
    everything = list(checked)
    assert len(everything) > 20 and {where.split("/")[0] for where in everything} == {"dev", "prod"}
    checked.clear()
    platform(tmp_path / "dist").synthesize()
    assert checked == []


def test_one_changed_app_rechecks_only_the_connections_of_its_namespace(tmp_path, cache, monkeypatch):
    """Issue 22: the connectivity check read the whole environment again when one app changed. A connection's
    verdict reads only its two namespaces' objects and the Namespace objects' labels: app-1's are checked again."""
    checked = _checked_connections(monkeypatch)
    platform(tmp_path / "dist").synthesize()
    everything = sorted(checked)
    checked.clear()
    platform(tmp_path / "dist", changed=1).synthesize()
    assert checked and {where.split("/")[1] for where in checked} == {"app-1"}
    assert sorted(checked) == sorted(where for where in everything if where.split("/")[1] == "app-1")


def test_a_connection_blocked_in_a_changed_namespace_is_reported_as_uncached(tmp_path, cache, monkeypatch):
    """app-1's server admits no caller any more (its policy edited through the escape hatch): the re-synth fails
    with the uncached run's problems, although app-0 and app-2 are not checked again."""

    def blocking(server) -> None:  # type: ignore[no-untyped-def]
        server.objects["NetworkPolicy"]["spec"]["ingress"] = []

    _fails_as_uncached(tmp_path, monkeypatch, blocking, "is blocked", lambda: _checked_connections(monkeypatch))


def _fails_as_uncached(tmp_path, monkeypatch, edit, text: str, recorder) -> None:  # type: ignore[no-untyped-def]
    """app-1's server edited by ``edit`` (the escape hatch): a re-synth after a clean one fails with the uncached run's
    problems (which say ``text``) while only app-1's objects are looked at again (``recorder()`` starts recording them),
    and fails again on the next run: a namespace or a group with a problem is never recorded clean."""

    def edited(out_dir: Path) -> Platform:
        result = platform(out_dir)
        for app in result.apps:
            if app.app_name == "app-1":
                edit(next(child for child in app.node.children if getattr(child, "construct_id", "") == "server"))
        return result

    with monkeypatch.context() as patch:
        patch.setenv(store.NO_CACHE_ENV, "1")
        with pytest.raises(Exception) as expected:
            edited(tmp_path / "plain").synthesize()
    assert text in str(expected.value)
    platform(tmp_path / "dist").synthesize()
    checked = recorder()
    with pytest.raises(Exception) as found:
        edited(tmp_path / "dist").synthesize()
    assert str(found.value) == str(expected.value)
    assert {where.split("/")[1] for where in checked} == {"app-1"}
    checked.clear()
    with pytest.raises(Exception) as again:
        edited(tmp_path / "dist").synthesize()
    assert str(again.value) == str(expected.value) and checked



#: The checks the cache runs a namespace at a time (incremental/namespaces.py): module and function, and where the
#: function takes the objects.
NAMESPACE_CHECKS = {"cross-object": ("mlkube.validation.cross_object", "check_cross_object", 0),
                    "volume sharing": ("mlkube.validation.volume_sharing", "check_volume_sharing", 0),
                    "tenancy": ("mlkube.gitops.tenancy_checks", "object_problems", 1)}


def _checked_by(monkeypatch, check: str = "cross-object") -> list[str]:
    """The objects ``check`` looks at (each environment/app/kind/name), as synth asks through the cache."""
    import importlib

    module_name, function, position = NAMESPACE_CHECKS[check]
    module = importlib.import_module(module_name)
    checked: list[str] = []
    real = getattr(module, function)

    def recording(*args):  # type: ignore[no-untyped-def]
        checked.extend(f"{m.environment}/{m.app}/{m.kind}/{m.name}" for m in args[position])
        return real(*args)

    monkeypatch.setattr(module, function, recording)
    return checked


@pytest.mark.parametrize("check", sorted(NAMESPACE_CHECKS))
def test_checks_across_objects_look_again_only_at_a_changed_apps_namespace(tmp_path, cache, monkeypatch, check):
    """Each of these checks reads an object alone or the objects of its namespace: unchanged, nothing is checked
    again; one app changed, the objects of its namespace in each environment."""
    checked = _checked_by(monkeypatch, check)
    platform(tmp_path / "dist").synthesize()
    everything = list(checked)
    assert len(everything) > 40 and {where.split("/")[0] for where in everything} == {"dev", "prod"}
    checked.clear()
    platform(tmp_path / "dist").synthesize()
    assert checked == []
    platform(tmp_path / "dist", changed=1).synthesize()
    assert checked and sorted(checked) == sorted(where for where in everything if where.split("/")[1] == "app-1")
    assert tree(tmp_path / "dist") == uncached(tmp_path / "plain", monkeypatch, changed=1)[0]


def test_a_service_that_selects_nothing_in_a_changed_namespace_is_reported_as_uncached(tmp_path, cache, monkeypatch):
    """app-1's Service selects no pod any more (edited through the escape hatch): the re-synth fails with the uncached
    run's problems while app-0 and app-2 are not checked again, and fails again on the next run."""

    def selecting_nothing(server) -> None:  # type: ignore[no-untyped-def]
        server.objects["Service"]["spec"]["selector"] = {"app.kubernetes.io/name": "nobody"}

    _fails_as_uncached(tmp_path, monkeypatch, selecting_nothing, "selects no pods", lambda: _checked_by(monkeypatch))


def test_the_model_fields_of_an_unchanged_object_are_not_walked_again(tmp_path, cache, monkeypatch):
    """The pinned-model check walks only objects whose input the cache has not seen; its findings are the uncached
    ones (prod requires pinned models: each s3:// model is reported from the fields the cache kept)."""
    from mlkube.pinning import models

    monkeypatch.setenv("MLKUBE_ALLOW_UNPINNED", "1")  # reported as warnings (the images are not promoted either)

    def production(out_dir: Path, changed: int | None = None) -> Platform:
        result = platform(out_dir, changed=changed)
        result.environments[1] = result.environments[1].model_copy(update={"production": True})
        return result

    with monkeypatch.context() as patch:
        patch.setenv(store.NO_CACHE_ENV, "1")
        expected = production(tmp_path / "plain").synthesize().warnings
    assert sum("requires pinned models" in text for text in expected) == 3  # one s3:// model per app in prod
    walked: list[str] = []
    real = models.model_fields
    monkeypatch.setattr(models, "model_fields", lambda obj: walked.append(obj.get("kind", "")) or real(obj))
    counts = []
    for changed in (None, None, 1):
        walked.clear()
        warnings = production(tmp_path / "dist", changed=changed).synthesize().warnings
        if changed is None:
            assert warnings == expected
        counts.append(len(walked))
    assert counts[0] > 20  # a cold cache walks every object
    assert counts[1] == 0  # the same input: the fields the cache kept
    assert 0 < counts[2] < counts[0] / 2  # app-1 changed: its objects only


def test_schema_results_are_reused_only_under_the_same_catalog_and_crd_files(tmp_path):
    """A 'valid' kept from one schema catalog is not trusted under other settings or changed CRD schema files."""
    from types import SimpleNamespace

    from mlkube.validation import ValidationSettings

    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "thing.json").write_text("{}")
    calls = []

    def catalog(settings):  # type: ignore[no-untyped-def]
        return SimpleNamespace(settings=settings, validate=lambda obj: calls.append(obj) or iter(()))

    memory = store.ObjectStore(None, {"dev": b"context"})
    ctx = SimpleNamespace(store=memory)
    objects = [_pod("server")]
    memory.prepare(objects)
    first = catalog(ValidationSettings(crd_schema_dirs=(crds,)))
    assert list(steps.schema_issues(ctx, objects[0], first)) == [] and len(calls) == 1
    assert list(steps.schema_issues(ctx, objects[0], first)) == [] and len(calls) == 1  # reused
    other = catalog(ValidationSettings(kubernetes_version="1.33", crd_schema_dirs=(crds,)))
    list(steps.schema_issues(ctx, objects[0], other))
    assert len(calls) == 2
    (crds / "thing.json").write_text('{"type": "object"}')
    memory.catalog_keys.clear()  # a new synth
    list(steps.schema_issues(ctx, objects[0], first))
    assert len(calls) == 3


def test_a_cache_folder_that_cannot_be_created_is_a_warning(tmp_path, cache, monkeypatch):
    expected, _ = uncached(tmp_path / "plain", monkeypatch)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv(store.CACHE_ENV, str(blocker / "mlkube"))
    result = platform(tmp_path / "dist").synthesize()
    assert tree(tmp_path / "dist") == expected
    assert any("cannot be created" in text and store.CACHE_ENV in text for text in result.warnings)


def test_a_spill_file_that_cannot_be_written_keeps_the_yaml_in_memory(tmp_path, cache, monkeypatch):
    """The YAML rendered in a run waits for the cache file in a temporary file (issue 22: not in memory); where that
    file cannot be written (a full $TMPDIR), it waits in memory: same bytes, and the next synth reuses every object."""
    expected, _ = uncached(tmp_path / "plain", monkeypatch)

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(store.tempfile, "TemporaryFile", no_space)
        platform(tmp_path / "dist").synthesize()
    assert tree(tmp_path / "dist") == expected
    platform(tmp_path / "dist").synthesize()
    assert tree(tmp_path / "dist") == expected
    assert steps.STATS["reused"] == steps.STATS["objects"]


def test_a_removed_output_folder_is_written_again_from_the_cached_yaml(tmp_path, cache, monkeypatch):
    """Cached rows' YAML is not held in memory (issue 22): it is read again from the cache file for a file that
    cannot be linked, here every file (the output folder was removed), checksums checked again."""
    import shutil

    from mlkube.kube import render

    expected, _ = uncached(tmp_path / "plain", monkeypatch)
    platform(tmp_path / "dist").synthesize()
    shutil.rmtree(tmp_path / "dist")
    rendered = []
    monkeypatch.setattr(render, "to_yaml", lambda obj: rendered.append(obj) or render.to_yaml_pyyaml(obj))
    platform(tmp_path / "dist").synthesize()
    assert tree(tmp_path / "dist") == expected
    assert steps.STATS["reused"] == steps.STATS["objects"]
    assert rendered == []  # every file's bytes came from the cache file
