"""The commented starter blueprint that ``mlkube init`` writes (apps/<team>/mlkube.yaml)."""

from __future__ import annotations

__all__ = ["starter_blueprint", "MODELINE_PREFIX"]

MODELINE_PREFIX = "# yaml-language-server: $schema="

_TEMPLATE = """\
{modeline}{schema}
# An mlkube blueprint: one app of the platform, described in YAML instead of Python.
# `mlkube synth` (or `cdk8s synth`) finds every apps/**/mlkube.yaml and writes its objects to
# dist/<environment>/<app>/. Check this file alone with `mlkube blueprint check {path}`.
# Field names are those of the Python specs in Kubernetes' camelCase (min_replicas -> minReplicas), defaults
# are the same; your editor completes them from the schema.
apiVersion: mlkube.dev/v1alpha1
kind: Blueprint
app: {app}                       # dist/<environment>/{app}/; the namespace's '{{app}}'
# environments: [dev]           # default: every environment of the platform

workloads:
  server:                        # the construct id and the default name of its objects
    kind: InferenceService
    image: ghcr.io/acme/{app}:0.1.0   # pin a tag or, better, a digest
    port: 8080
    # model: s3://acme-models/{app}/v1  # downloaded by an init container into /mnt/models
    resources:
      cpu: "1"
      memory: 2Gi
      # gpu: {{count: 1, product: NVIDIA-L4}}
    autoscaling:
      minReplicas: 2
      maxReplicas: 4
      targetCpuUtilization: 70
    # config: {{LOG_LEVEL: info}}     # a ConfigMap given to the server as environment
"""


def starter_blueprint(app: str = "my-app", schema: str = "../../schemas/blueprint.schema.json",
                      path: str = "apps/my-team/mlkube.yaml") -> str:
    """A valid, commented blueprint with the yaml-language-server modeline.

    ``schema`` is the schema's location relative to the written file (default: a file at
    apps/<team>/mlkube.yaml, with schemas/ at the repo root) or a URL.
    """
    return _TEMPLATE.format(modeline=MODELINE_PREFIX, schema=schema, app=app, path=path)
