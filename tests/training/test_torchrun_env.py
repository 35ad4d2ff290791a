"""The torchrun configuration mlkube writes is the one torchrun reads: two real torchrun agents form one group.

The judge is torchrun itself (PyTorch's CPU build, installed by bin/setup into .venv/torch): each agent
gets exactly the main container's env of a synthesized two-node job, runs `torchrun train.py` with no
flags, and the workers join one gloo group. The only substitution: rank 0's DNS name (which only the
cluster's DNS resolves) becomes 127.0.0.1, with a free port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest
from helpers import REPO_ROOT

from mlkube import GpuTrainingJob, ResourcesSpec
from mlkube.testing import synth_app

TORCH_PYTHON = REPO_ROOT / ".venv" / "torch" / "bin" / "python"
pytestmark = pytest.mark.skipif(not TORCH_PYTHON.exists(), reason="PyTorch is not installed in .venv/torch (bin/setup installs it)")

TRAIN = """\
import json, os
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
total = torch.tensor([dist.get_rank() + 1])
dist.all_reduce(total)
print("RESULT " + json.dumps({"rank": dist.get_rank(), "world": dist.get_world_size(), "sum": int(total.item()),
                              "node_rank": os.environ.get("GROUP_RANK")}), flush=True)
dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _container_env(backend: str, **fields) -> dict[str, str]:
    result = synth_app(lambda app: GpuTrainingJob(app, "train", image="ghcr.io/acme/train:1", nodes=2, backend=backend,
                                                  resources=ResourcesSpec(), **fields),
                       environments=[{"name": "test", "namespace": "ml", "operators": None}])
    workload = next(m.obj for m in result.manifests if m.obj["kind"] in ("Job", "JobSet"))
    spec = workload["spec"]
    pod = (spec["replicatedJobs"][0]["template"]["spec"] if backend == "jobset" else spec)["template"]["spec"]
    env = {item["name"]: item["value"] for item in pod["containers"][0]["env"] if "value" in item}
    assert not any(name.startswith("PET_") for name in (item["name"] for item in pod["containers"][0]["env"] if "value" not in item))
    return env


@pytest.mark.parametrize("backend", ["job", "jobset"])
def test_two_torchrun_agents_form_one_group_from_the_env_alone(backend, tmp_path):
    env = _container_env(backend)
    assert env["PET_NNODES"] == "2" and env["PET_RDZV_BACKEND"] == "c10d"
    host, port = env["PET_RDZV_ENDPOINT"].rsplit(":", 1)
    assert host.startswith("train-") and port == "29500"
    env["PET_RDZV_ENDPOINT"] = f"127.0.0.1:{_free_port()}"
    (tmp_path / "train.py").write_text(TRAIN)
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GLOO_SOCKET_IFNAME": "lo", **env}
    agents = [subprocess.Popen([str(TORCH_PYTHON), "-m", "torch.distributed.run", "train.py"], cwd=tmp_path, env=base,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = []
    try:
        for agent in agents:
            outputs.append(agent.communicate(timeout=240)[0])
    finally:
        for agent in agents:
            agent.kill()
    results = [json.loads(line.split("RESULT ", 1)[1]) for out in outputs for line in out.splitlines() if line.startswith("RESULT ")]
    assert [agent.returncode for agent in agents] == [0, 0], "\n".join(outputs)[-3000:]
    assert sorted(r["rank"] for r in results) == [0, 1]
    assert {r["world"] for r in results} == {2} and {r["sum"] for r in results} == {3}


def test_elastic_range_and_restarts_reach_torchrun():
    env = _container_env("jobset", min_nodes=1, max_restarts=5)
    assert env["PET_NNODES"] == "1:2" and env["PET_MAX_RESTARTS"] == "5"
    # torchrun parses "min:max" itself (torch/distributed/run.py parse_min_max_nnodes).
    check = subprocess.run([str(TORCH_PYTHON), "-c", "from torch.distributed.run import parse_min_max_nnodes as p; "
                            f"print(p({env['PET_NNODES']!r}))"], capture_output=True, text=True, timeout=120)
    assert check.stdout.strip() == "(1, 2)", check.stderr[-2000:]


def test_a_single_node_job_runs_torchrun_standalone():
    result = synth_app(lambda app: GpuTrainingJob(app, "train", image="ghcr.io/acme/train:1"),
                       environments=[{"name": "test", "namespace": "ml"}])
    job = next(m.obj for m in result.manifests if m.obj["kind"] == "Job")
    env = {item["name"]: item.get("value") for item in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PET_STANDALONE"] == "1" and env["PET_NNODES"] == "1" and "PET_RDZV_ENDPOINT" not in env


def test_fails_when_min_nodes_exceeds_nodes():
    from mlkube.core.gpu_training_job import GpuTrainingJobSpec

    with pytest.raises(ValueError, match=r"'min_nodes' \(3\) must be less than or equal to 'nodes' \(2\)"):
        GpuTrainingJobSpec(image="ghcr.io/acme/train:1", nodes=2, min_nodes=3)
