"""The reference: the same platform written with cdk8s-plus high-level classes, what a cdk8s user
writes today. Per app and environment: ConfigMap, ServiceAccount, Deployment, Service, HPA and
NetworkPolicy for the server; PVC, ServiceAccount, Job, headless Service and NetworkPolicy for the
training job (cdk8s-plus has no PodDisruptionBudget class: 11 objects to mlkube's 12)."""

from __future__ import annotations

import os
import sys

import cdk8s
import cdk8s_plus_35 as kplus

APPS = int(os.environ.get("MLKUBE_BENCH_APPS", "10"))

app = cdk8s.App(outdir=sys.argv[1] if len(sys.argv) > 1 else "cdk8s-plus.out")
for environment in ("dev", "staging", "prod"):
    for number in range(APPS):
        chart = cdk8s.Chart(app, f"{environment}-app-{number:04d}", namespace=f"{environment}-app-{number:04d}",
                            disable_resource_name_hashes=True)
        config = kplus.ConfigMap(chart, "config", data={"MODEL_ID": str(number)})
        account = kplus.ServiceAccount(chart, "sa", automount_token=False)
        deployment = kplus.Deployment(chart, "server", service_account=account)
        container = deployment.add_container(
            image=f"ghcr.io/acme/model-{number}:1.0", port_number=8080,
            resources=kplus.ContainerResources(cpu=kplus.CpuResources(request=kplus.Cpu.units(2), limit=kplus.Cpu.units(2)),
                                               memory=kplus.MemoryResources(request=cdk8s.Size.gibibytes(4), limit=cdk8s.Size.gibibytes(4))),
            env_from=[kplus.Env.from_config_map(config)],
        )
        container.mount("/tmp", kplus.Volume.from_empty_dir(chart, "tmp", "tmp"))
        deployment.expose_via_service(ports=[kplus.ServicePort(port=8080)])
        kplus.HorizontalPodAutoscaler(chart, "hpa", target=deployment, min_replicas=2, max_replicas=4,
                                      metrics=[kplus.Metric.resource_cpu(kplus.MetricTarget.average_utilization(70))])
        kplus.NetworkPolicy(chart, "netpol", selector=deployment)
        claim = kplus.PersistentVolumeClaim(chart, "checkpoints", storage=cdk8s.Size.gibibytes(100),
                                            access_modes=[kplus.PersistentVolumeAccessMode.READ_WRITE_MANY])
        trainer = kplus.ServiceAccount(chart, "train-sa", automount_token=False)
        job = kplus.Job(chart, "train", service_account=trainer, backoff_limit=3)
        train = job.add_container(image=f"ghcr.io/acme/trainer-{number}:1.0", port_number=29500,
                                  resources=kplus.ContainerResources(cpu=kplus.CpuResources(request=kplus.Cpu.units(8), limit=kplus.Cpu.units(8)),
                                                                     memory=kplus.MemoryResources(request=cdk8s.Size.gibibytes(64), limit=cdk8s.Size.gibibytes(64))))
        train.mount("/checkpoints", kplus.Volume.from_persistent_volume_claim(chart, "checkpoints-volume", claim))
        kplus.Service(chart, "train-headless", cluster_ip="None", publish_not_ready_addresses=True, selector=job,
                      ports=[kplus.ServicePort(port=29500)])
        kplus.NetworkPolicy(chart, "train-netpol", selector=job)
app.synth()
