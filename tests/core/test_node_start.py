"""Node starts in a thread while Python imports (core/node_start.py, issue 22 start-up).

Checked in fresh interpreters, against the pinned jsii: who started Node and who loaded the assemblies,
that the tree and the output are what jsii's own start gives, and that a missing Node is still jsii's error.
Times are the benchmarks' business (bench/RESULTS.md), not these tests'.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import PACKAGE_ROOT, REPO_ROOT

# Records, per jsii request kind, the thread that sent it; then builds and synthesizes a small chart.
_PROBE = """
import json, os, sys, threading
import jsii._kernel.providers.process as process
sent = []
original_send, original_start = process._NodeProcess.send, process._NodeProcess.start
def send(self, request, response_type):
    sent.append([type(request).__name__, getattr(request, "name", None), threading.current_thread().name])
    return original_send(self, request, response_type)
def start(self):
    sent.append(["start", None, threading.current_thread().name])
    return original_start(self)
process._NodeProcess.send, process._NodeProcess.start = send, start
if sys.argv[1] == "early":
    from mlkube.core.node_start import start_node_early
    start_node_early()
import cdk8s
from jsii._kernel import Kernel
app = cdk8s.App()
chart = cdk8s.Chart(app, "chart")
cdk8s.ApiObject(chart, "cm", api_version="v1", kind="ConfigMap", metadata={"name": "settings"})
print(json.dumps({"provider": type(Kernel().provider).__name__, "sent": sent,
                  "objects": [o for o in cdk8s.Testing.synth(chart)]}))
"""


def _probe(mode: str, **env: str) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=300, check=True,
                            env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), **env})
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_node_starts_and_loads_the_assemblies_in_the_thread() -> None:
    early = _probe("early")
    assert early["provider"] == "EarlyNodeProvider"  # the pinned jsii still has the internals node_start relies on
    sent = early["sent"]
    assert isinstance(sent, list)
    assert sent[:3] == [["start", None, "mlkube-node-start"], ["LoadRequest", "constructs", "mlkube-node-start"],
                        ["LoadRequest", "cdk8s", "mlkube-node-start"]]
    # `import constructs` and `import cdk8s` did not wait for Node: the main thread sent no load and started nothing.
    assert not [entry for entry in sent[3:] if entry[0] in ("start", "LoadRequest")]
    assert {entry[2] for entry in sent[3:]} == {"MainThread"}


def test_the_tree_and_its_objects_are_what_jsii_s_own_start_gives() -> None:
    early, late = _probe("early"), _probe("late")
    assert late["provider"] == "ProcessProvider"
    assert early["objects"] == late["objects"] == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}]
    assert [entry[0] for entry in early["sent"] if entry[0] != "start"] == [entry[0] for entry in late["sent"] if entry[0] != "start"]  # type: ignore[union-attr]


def test_it_can_be_turned_off() -> None:
    assert _probe("early", MLKUBE_NODE_EARLY="0")["provider"] == "ProcessProvider"


def test_a_jsii_already_running_is_left_alone() -> None:
    code = ("import cdk8s; from mlkube.core.node_start import start_node_early; start_node_early(); "
            "from jsii._kernel import Kernel; cdk8s.App(); print(type(Kernel().provider).__name__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True,
                            env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)})
    assert result.stdout.strip().splitlines()[-1] == "ProcessProvider"


def _synth(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlkube", "synth", "--app", str(REPO_ROOT / "bench" / "platform_app.py"),
                           "--out", str(out), "--no-cache"], capture_output=True, text=True, timeout=300, cwd=out.parent,
                          env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "MLKUBE_BENCH_APPS": "2", **env})


def test_synth_writes_the_same_tree_with_and_without_the_early_start(tmp_path: Path) -> None:
    early, late = _synth(tmp_path / "early"), _synth(tmp_path / "late", MLKUBE_NODE_EARLY="0")
    assert early.returncode == late.returncode == 0, early.stderr + late.stderr

    def tree(root: Path) -> dict[str, bytes]:
        return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}

    assert tree(tmp_path / "early") == tree(tmp_path / "late") and len(tree(tmp_path / "early")) > 20


def test_no_node_is_still_jsii_s_error_without_a_traceback(tmp_path: Path) -> None:
    """A platform with a plain cdk8s construct asks Node for it: without Node, jsii's own error, and nothing written."""
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent("""\
        import cdk8s
        from mlkube import Environment, Platform
        platform = Platform(environments=[Environment(name="dev")])
        platform.app("plain", lambda app: cdk8s.ApiObject(app, "settings", api_version="v1", kind="ConfigMap"))
        platform.synth()
        """))
    result = subprocess.run([sys.executable, "-m", "mlkube", "synth", "--app", str(app), "--out", str(tmp_path / "out"), "--no-cache"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "JSII_NODE": str(tmp_path / "no-node")})
    assert result.returncode == 2
    assert "no-node" in result.stderr and "No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_platform_of_mlkube_constructs_never_asks_node(tmp_path: Path) -> None:
    """Its App waits to be created like its constructs (core/lazy_node.py) and synth reads nothing from Node: it
    synthesizes the same tree where Node is missing."""
    with_node, without = _synth(tmp_path / "with"), _synth(tmp_path / "without", JSII_NODE=str(tmp_path / "no-node"))
    assert with_node.returncode == without.returncode == 0, without.stderr
    assert "Traceback" not in without.stderr

    def tree(root: Path) -> dict[str, bytes]:
        return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}

    assert tree(tmp_path / "with") == tree(tmp_path / "without")


# Node's start made slow (as on a loaded machine); a command that fails before it builds anything then exits while
# the thread is still starting Node. Reports, from the exit hooks, whether that thread was still running.
_FAILS_FAST = """
import atexit, sys, threading, time
import jsii._kernel.providers.process as process
original_start = process._NodeProcess.start
def slow_start(self):
    time.sleep(1.0)
    return original_start(self)
process._NodeProcess.start = slow_start
def report():
    alive = [thread.name for thread in threading.enumerate() if thread.name == "mlkube-node-start"]
    print("STARTING AT EXIT: " + ",".join(alive), file=sys.stderr)
atexit.register(report)
from mlkube.core.node_start import start_node_early
start_node_early()
sys.argv = ["mlkube", "synth"]
from mlkube.cli import run
run()
"""


def test_a_command_that_fails_fast_exits_after_nodes_start_without_a_traceback(tmp_path: Path) -> None:
    """Exiting while the thread starts Node removed jsii's runtime folder under it or collected a half-started Node
    process, each a traceback on stderr (one run in six under load): the `mlkube` program now waits for the start."""
    (tmp_path / "cdk8s.yaml").write_text("app: [\n")  # synth fails before the app runs: exit code 2
    result = subprocess.run([sys.executable, "-c", _FAILS_FAST], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    assert result.returncode == 2, result.stderr
    assert "cdk8s.yaml is not valid YAML" in result.stderr
    assert "STARTING AT EXIT: \n" in result.stderr  # the thread had ended before the exit hooks ran
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
