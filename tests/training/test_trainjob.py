"""GpuTrainingJob(backend="trainjob"): a Kubeflow Trainer v2 TrainJob, restricted through runtimePatches."""

from __future__ import annotations

import pytest
import yaml
from helpers import SHARED_DIR

from mlkube import CheckpointVolume, GpuSpec, GpuTrainingJob, ResourcesSpec
from mlkube.errors import MlkubeError
from mlkube.testing import synth_app

TRAINER = [{"name": "t", "namespace": "ml", "operators": {"trainer": "2.2"}}]


def _build(app, **fields):
    return GpuTrainingJob(app, "finetune", image="ghcr.io/acme/train:1", nodes=2, backend="trainjob",
                          command=["torchrun", "train.py"], env={"WANDB_PROJECT": "llm"},
                          resources=ResourcesSpec(cpu="16", memory="64Gi", shm_size="16Gi", gpu=GpuSpec(count=8)), **fields)


def _objects(build=_build, environments=TRAINER):
    return {(m.obj["kind"], m.obj["metadata"]["name"]): m.obj for m in synth_app(build, environments=environments).manifests}


def _pod(trainjob):
    patch = trainjob["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]
    assert patch["name"] == "node"
    return patch["template"]["spec"]["template"]["spec"]


def test_trainjob_carries_the_trainer_and_the_restricted_pod():
    trainjob = _objects()[("TrainJob", "finetune")]
    spec = trainjob["spec"]
    assert spec["runtimeRef"] == {"apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime", "name": "torch-distributed"}
    trainer = spec["trainer"]
    assert trainer["numNodes"] == 2 and trainer["numProcPerNode"] == 8 and trainer["command"] == ["torchrun", "train.py"]
    assert trainer["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == 8
    names = [item["name"] for item in trainer["env"]]
    assert "WANDB_PROJECT" in names and "HOME" in names
    # Trainer's webhook refuses the torchrun variables it sets itself (TorchRunReservedEnvNames).
    assert not [name for name in names if name.startswith("PET_")]
    pod = _pod(trainjob)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["serviceAccountName"] == "finetune"
    container = pod["containers"][0]
    assert container["name"] == "node" and container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]


def test_trainjob_is_valid_against_the_upstream_crd():
    if SHARED_DIR is None:
        pytest.skip("../shared is absent: the upstream Trainer CRD is not available")
    import jsonschema

    crd = yaml.safe_load((SHARED_DIR / "crds/trainer/trainer.kubeflow.org_trainjobs.yaml").read_text())
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")["schema"]["openAPIV3Schema"]
    trainjob = _objects()[("TrainJob", "finetune")]
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(trainjob), key=str)
    assert not errors, errors[0].message


def test_a_checkpoint_volume_mounts_into_the_trainer_pod():
    def build(app):
        volume = CheckpointVolume(app, "ckpt", size="1Ti", access_mode="ReadWriteMany")
        _build(app).mount(volume)

    pod = _pod(_objects(build)[("TrainJob", "finetune")])
    assert {"name": "pvc-ckpt", "persistentVolumeClaim": {"claimName": "ckpt"}} in pod["volumes"]
    container = pod["containers"][0]
    assert any(mount["name"] == "pvc-ckpt" for mount in container["volumeMounts"])
    assert {"name": "CHECKPOINT_DIR", "value": next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "pvc-ckpt")} in container["env"]


def test_network_policy_selects_the_pods_trainers_jobset_makes():
    objects = _objects()
    policies = [obj for (kind, _), obj in objects.items() if kind == "NetworkPolicy"]
    assert policies and all(p["spec"]["podSelector"] == {"matchLabels": {"jobset.sigs.k8s.io/jobset-name": "finetune"}} for p in policies)


@pytest.mark.parametrize(("environments", "message"), [
    ([{"name": "t", "namespace": "ml", "operators": ["kserve"]}], "needs Kubeflow Trainer"),
    ([{"name": "t", "namespace": "ml", "operators": {"trainer": "2.1"}}], "needs Kubeflow Trainer 2.2 or later"),
])
def test_fails_when_the_environment_lacks_a_trainer_that_can_run_it(environments, message):
    with pytest.raises(MlkubeError, match=message):
        synth_app(_build, environments=environments)


@pytest.mark.parametrize(("fields", "message"), [({"min_nodes": 1}, "no elastic training"), ({"queue": "gpu"}, "does not queue TrainJobs")])
def test_fails_when_an_option_trainjob_cannot_carry_is_set(fields, message):
    with pytest.raises(MlkubeError, match=message):
        synth_app(lambda app: _build(app, **fields), environments=TRAINER)
