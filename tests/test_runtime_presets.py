"""Runtime presets (vLLM, TGI, Triton, KServe's Hugging Face server) and the model downloader's credentials.

Each preset's port, health paths and command line come from the server's upstream source (cited in
mlkube/core/runtimes.py); these tests pin what the pods get and that explicit fields win."""

from __future__ import annotations

import pytest

from mlkube import Environment, GpuSpec, InferenceService, MlkubeError, Model, ResourcesSpec, Runtime
from mlkube.core.pod import runtime_env
from mlkube.testing import synth_app as _synth_app

RUNTIME_HOME_ENV = {item["name"] for item in runtime_env()}

VLLM = "vllm/vllm-openai:v0.11.0"


#: Model downloads leave the cluster over HTTPS; synth refuses a download with no declared egress (tests/traffic).
DOWNLOAD_EGRESS = {"egress_https_cidrs": ["0.0.0.0/0"]}


def synth_app(build, **fields):
    fields.setdefault("environments", [Environment(name="test", namespace="ml", network=DOWNLOAD_EGRESS)])
    return _synth_app(build, **fields)


def _server(objects, name="llm"):
    return objects.get("Deployment", name)["spec"]["template"]["spec"]["containers"][0]


def _env(container):
    """The container's env, less the writable HOME and caches every mlkube container gets (tests/test_pod.py)."""
    return {item["name"]: item.get("value") for item in container.get("env") or [] if item["name"] not in RUNTIME_HOME_ENV}


def _error(build, environments=None) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(build, **({"environments": environments} if environments else {}))
    return str(caught.value)


def test_vllm_preset_serves_the_downloaded_model_on_its_port_with_its_health_endpoint():
    objects = synth_app(lambda app: InferenceService(app, "llm", image=VLLM, runtime="vllm", model="hf://org/model"))
    server = _server(objects)
    # `vllm serve <model>`: the model is the path the init container downloaded to, expanded by Kubernetes from MODEL_PATH.
    assert server["command"] == ["vllm", "serve"]
    assert server["args"] == ["$(MODEL_PATH)", "--served-model-name", "llm", "--port", "8000"]
    assert server["ports"] == [{"containerPort": 8000, "name": "http", "protocol": "TCP"}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert server[probe]["httpGet"] == {"path": "/health", "port": "http"}
    env = _env(server)
    assert (env["MODEL_PATH"], env["PORT"], env["HF_HUB_OFFLINE"], env["VLLM_NO_USAGE_STATS"]) == ("/mnt/models", "8000", "1", "1")
    assert objects.get("Service", "llm")["spec"]["ports"][0]["port"] == 8000


def test_explicit_fields_win_over_the_preset():
    def build(app):
        InferenceService(app, "llm", image=VLLM, runtime=Runtime.vllm(served_model_name="chat", extra_args=["--max-model-len", "8192"]),
                         port=9000, probes={"readiness_path": "/v1/models"}, env={"VLLM_NO_USAGE_STATS": "0"}, model="hf://org/model")
    server = _server(synth_app(build))
    assert server["args"] == ["$(MODEL_PATH)", "--served-model-name", "chat", "--port", "9000", "--max-model-len", "8192"]
    assert server["readinessProbe"]["httpGet"]["path"] == "/v1/models"
    assert server["livenessProbe"]["httpGet"]["path"] == "/health"  # not given: the preset's
    assert _env(server)["VLLM_NO_USAGE_STATS"] == "0"
    own = _server(synth_app(lambda app: InferenceService(app, "llm", image=VLLM, runtime="vllm", args=["--model", "x"])))
    assert (own["command"], own["args"]) == (["vllm", "serve"], ["--model", "x"])
    assert "HF_HUB_OFFLINE" not in _env(own)  # no model delivered by mlkube: the server may fetch it itself


def test_tgi_preset():
    server = _server(synth_app(lambda app: InferenceService(app, "llm", image="ghcr.io/huggingface/text-generation-inference:3.3.6",
                                                            runtime="tgi", model="s3://models/llm")))
    assert "command" not in server  # the image's entrypoint runs text-generation-launcher
    assert server["args"] == ["--model-id", "$(MODEL_PATH)", "--port", "8080"]  # the image's PORT=80 is privileged
    assert server["readinessProbe"]["httpGet"]["path"] == "/health"


def test_triton_preset_scrapes_its_own_metrics_port():
    objects = synth_app(lambda app: InferenceService(app, "llm", image="nvcr.io/nvidia/tritonserver:25.01-py3", runtime="triton",
                                                     model="gs://models/repository"))
    server = _server(objects)
    assert server["args"] == ["tritonserver", "--model-repository=$(MODEL_PATH)", "--http-port=8000", "--metrics-port=8002"]
    assert (server["readinessProbe"]["httpGet"]["path"], server["livenessProbe"]["httpGet"]["path"]) == ("/v2/health/ready", "/v2/health/live")
    assert {"containerPort": 8002, "name": "metrics", "protocol": "TCP"} in server["ports"]


def test_kserve_huggingface_preset():
    server = _server(synth_app(lambda app: InferenceService(app, "llm", image="kserve/huggingfaceserver:v0.15.2",
                                                            runtime="kserve-huggingface", model="hf://org/model")))
    assert server["args"] == ["--model_dir=$(MODEL_PATH)", "--model_name=llm", "--http_port=8080"]
    assert server["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_fails_when_a_preset_is_given_to_the_kserve_backend_or_is_unknown():
    message = _error(lambda app: InferenceService(app, "llm", backend="kserve", runtime="vllm", model="hf://org/model"))
    assert "'runtime' (vllm) configures the server container of the kubernetes backend" in message
    assert "Input should be 'vllm', 'tgi', 'triton' or 'kserve-huggingface'" in _error(
        lambda app: InferenceService(app, "llm", image=VLLM, runtime="vlm"))


# -- the model downloader's credentials ----------------------------------------------------------------


def _downloader(model, **fields):
    objects = synth_app(lambda app: InferenceService(app, "llm", image=VLLM, runtime="vllm", model=model, **fields))
    pod = objects.get("Deployment", "llm")["spec"]["template"]["spec"]
    return pod, next(c for c in pod["initContainers"] if c["name"] == "model-downloader")


@pytest.mark.parametrize(("uri", "variable", "key"), [
    ("hf://meta-llama/Llama-3.1-8B-Instruct", "HF_TOKEN_PATH", "token"),  # huggingface_hub reads the token file
    ("s3://models/llm", "AWS_SHARED_CREDENTIALS_FILE", "credentials"),   # boto3's default chain
    ("gs://models/llm", "GOOGLE_APPLICATION_CREDENTIALS", "service-account.json"),  # google.auth.default()
])
def test_downloader_is_pointed_at_the_credentials_file_it_reads(uri, variable, key):
    pod, downloader = _downloader(Model.from_uri(uri, credentials_secret="model-creds"))
    assert _env(downloader) == {variable: f"/var/run/secrets/model-credentials/{key}"}
    mount = next(m for m in downloader["volumeMounts"] if m["mountPath"] == "/var/run/secrets/model-credentials")
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "model-creds"  # a file, never an env value


def test_credentials_key_chooses_the_file():
    _, downloader = _downloader(Model.from_uri("hf://org/model", credentials_secret="hf", credentials_key="hf_token"))
    assert _env(downloader) == {"HF_TOKEN_PATH": "/var/run/secrets/model-credentials/hf_token"}


@pytest.mark.parametrize(("model", "expected"), [
    ({"uri": "oci://registry/model:1", "credentials_secret": "c"}, "pulled by the kubelet with the pod's imagePullSecrets"),
    ({"uri": "oci://Registry/Model"}, "an oci:// model is an image"),
    ({"uri": "azureblob://account/container/model"}, "cannot download azureblob:// URIs"),
    ({"uri": "https://models.example.com/m.tar.gz", "credentials_secret": "c"}, "reads https:// credentials only from environment variables"),
    ({"uri": "hf://org/model/subfolder"}, "reads hf://<organization>/<model>[:<revision>]"),
    ({"uri": "s3://m/v1", "credentials_key": "k"}, "credentials_key names a key of credentials_secret"),
])
def test_fails_when_the_storage_initializer_cannot_use_the_model_source(model, expected):
    assert expected in _error(lambda app: InferenceService(app, "llm", image=VLLM, model={"source": "uri", **model}))


def test_a_downloader_of_ones_own_may_take_any_scheme():
    _, downloader = _downloader(Model.from_uri("oci://registry/model:1", downloader_image="ghcr.io/acme/fetch:1.0"))
    assert downloader["image"] == "ghcr.io/acme/fetch:1.0"


def test_readme_example_serves_its_gated_model():
    def build(app):
        InferenceService(app, "llm-server", image=VLLM, runtime="vllm",
                         model=Model.from_uri("hf://meta-llama/Llama-3.1-8B-Instruct", credentials_secret="hf-token"),
                         resources=ResourcesSpec(cpu="8", memory="48Gi", shm_size="8Gi", gpu=GpuSpec(count=1, product="NVIDIA-L4")))
    objects = synth_app(build, environments=[Environment(name="dev", namespace="ml-llm-chat", network=DOWNLOAD_EGRESS)])
    pod = objects.get("Deployment", "llm-server")["spec"]["template"]["spec"]
    downloader, server = pod["initContainers"][0], pod["containers"][0]
    assert downloader["args"] == ["hf://meta-llama/Llama-3.1-8B-Instruct", "/mnt/models"]
    assert _env(downloader)["HF_TOKEN_PATH"] == "/var/run/secrets/model-credentials/token"
    assert server["args"][0] == "$(MODEL_PATH)" and _env(server)["MODEL_PATH"] == "/mnt/models"
    assert server["readinessProbe"]["httpGet"]["path"] == "/health"


# The real readers: the libraries KServe 0.15's storage initializer downloads with, in their locked versions
# (huggingface_hub 0.30.2, botocore 1.38.4, google-auth 2.39.0 in python/kserve/poetry.lock at v0.15.2),
# run with the variable mlkube set (the mount folder remapped to a temporary one) and a credentials file there.
_READERS = {
    "hf://org/model": ("from huggingface_hub import get_token; print(get_token())", "hf_example_token\n", "hf_example_token"),
    "s3://models/llm": ("import botocore.session; c = botocore.session.Session().get_credentials(); print(c.access_key, c.secret_key)",
                        "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = example-secret\n",
                        "AKIAEXAMPLE example-secret"),
}


def _service_account_json() -> str:
    import json

    import rsa

    _, private = rsa.newkeys(1024)  # a throwaway key: google.auth parses it when it loads the file
    return json.dumps({"type": "service_account", "project_id": "example", "private_key_id": "1",
                       "private_key": private.save_pkcs1().decode(), "client_email": "downloader@example.iam.gserviceaccount.com",
                       "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"})


_READERS["gs://models/llm"] = ("import google.auth; c, project = google.auth.default(); print(c.service_account_email, project)",
                               _service_account_json, "downloader@example.iam.gserviceaccount.com example")


@pytest.mark.parametrize("uri", sorted(_READERS))
def test_the_downloaders_library_reads_the_mounted_credentials_file(uri, tmp_path):
    import os
    import subprocess
    import sys

    code, content, expected = _READERS[uri]
    _, downloader = _downloader(Model.from_uri(uri, credentials_secret="creds"))
    (variable, path), = _env(downloader).items()
    local = tmp_path / path.removeprefix("/var/run/secrets/model-credentials/")
    local.write_text(content() if callable(content) else content)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HF_", "HUGGING", "GOOGLE_", "GCE_"))}
    result = subprocess.run([sys.executable, "-c", code], env={**clean, "HOME": str(tmp_path), variable: str(local)},
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == expected, result.stderr


def test_the_readme_headline_example_serves_its_model():
    import re

    from helpers import REPO_ROOT

    from mlkube.testing import synth_platform

    readme = (REPO_ROOT / "README.md").read_text()
    code = re.search(r"## Example\n\n```python\n(.*?)```", readme, re.S).group(1).replace('if __name__ == "__main__":', "if False:")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    objects = synth_platform(namespace["platform"])
    pod = objects.get("Deployment", "llm-server")["spec"]["template"]["spec"]
    downloader, server = pod["initContainers"][0], pod["containers"][0]
    assert downloader["args"][0] == "hf://meta-llama/Llama-3.1-8B-Instruct"
    assert _env(downloader) == {"HF_TOKEN_PATH": "/var/run/secrets/model-credentials/token"}  # the gated model's token
    assert (server["command"], server["args"][0]) == (["vllm", "serve"], "$(MODEL_PATH)")  # vLLM is given the model
    assert server["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}   # vLLM's health endpoint


def test_a_yaml_blueprint_names_a_preset_and_its_schema_accepts_it(tmp_path):
    import json

    import jsonschema
    import yaml
    from helpers import REPO_ROOT

    from mlkube.blueprint import parse_blueprints

    text = ("apiVersion: mlkube.dev/v1alpha1\nkind: Blueprint\napp: chat\nworkloads:\n  llm:\n    kind: InferenceService\n"
            "    image: vllm/vllm-openai:v0.11.0\n    runtime: vllm\n    model: hf://org/model\n")
    (tmp_path / "mlkube.yaml").write_text(text)
    schema = json.loads((REPO_ROOT / "schemas" / "blueprint.schema.json").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(text))) == []
    _, problems = parse_blueprints(tmp_path / "mlkube.yaml")
    assert problems == []


def test_vllm_shards_over_every_gpu_of_the_pod():
    def build(app):
        InferenceService(app, "llm", image=VLLM, runtime="vllm", model="hf://org/model",
                         resources=ResourcesSpec(cpu="16", memory="96Gi", shm_size="8Gi", gpu=GpuSpec(count=4)))
    assert _server(synth_app(build))["args"][-2:] == ["--tensor-parallel-size", "4"]
