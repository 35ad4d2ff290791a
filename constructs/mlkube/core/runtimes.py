"""Runtime presets for the model servers people run: vLLM, TGI, Triton and KServe's Hugging Face server.

``InferenceService(app, "llm", image="vllm/vllm-openai:v0.11.0", runtime="vllm", model="hf://org/model")``
fills in what that server needs: its port, its health endpoints, the command line that serves the model
at ``$(MODEL_PATH)`` (Kubernetes expands the variable from the container's env), and its environment.
Fields given explicitly (port, probes, command, args, env) win over the preset's.
Writable HOME and cache folders are the shared pod builder's business (pod.py), not the presets'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from .spec import Spec, field_key

__all__ = ["Runtime", "RuntimeSpec", "RuntimePreset", "PRESETS", "apply_runtime_defaults"]

ServerName = Literal["vllm", "tgi", "triton", "kserve-huggingface"]
MODEL_PATH_REF = "$(MODEL_PATH)"


@dataclass(frozen=True)
class RuntimePreset:
    """What one server needs; ``args`` builds its command line."""

    port: int
    readiness_path: str
    liveness_path: str
    metrics_port: int | None = None
    command: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    #: Set HF_HUB_OFFLINE=1 when mlkube delivers the model: the server then never calls the Hub (egress is denied anyway).
    hub_offline: bool = False

    def args(self, runtime: Runtime, *, served_name: str, port: int, metrics_port: int | None, gpus: int = 0) -> list[str]:
        return [*_ARGS[runtime.server](served_name, port, metrics_port, gpus), *runtime.extra_args]


def _vllm_args(name: str, port: int, metrics_port: int | None, gpus: int) -> list[str]:
    # `vllm serve <model>`: the model is positional (`--model` is deprecated with `vllm serve`).
    args = [MODEL_PATH_REF, "--served-model-name", name, "--port", str(port)]
    if gpus > 1:
        # vLLM uses one GPU unless told (--tensor-parallel-size defaults to 1): shard over all of the pod's GPUs.
        args += ["--tensor-parallel-size", str(gpus)]
    return args


def _tgi_args(name: str, port: int, metrics_port: int | None, gpus: int) -> list[str]:
    # text-generation-launcher --model-id/--port (launcher/src/main.rs); the image's PORT=80 is privileged, so always pass --port.
    # It shards over every visible GPU by itself (find_num_shards: NVIDIA_VISIBLE_DEVICES, set by the device plugin).
    return ["--model-id", MODEL_PATH_REF, "--port", str(port)]


def _triton_args(name: str, port: int, metrics_port: int | None, gpus: int) -> list[str]:
    # As KServe's own Triton runtime runs it (config/runtimes/kserve-tritonserver.yaml): args start with the binary.
    args = ["tritonserver", f"--model-repository={MODEL_PATH_REF}", f"--http-port={port}"]
    if metrics_port is not None:
        args.append(f"--metrics-port={metrics_port}")
    return args


def _kserve_hf_args(name: str, port: int, metrics_port: int | None, gpus: int) -> list[str]:
    # python -m huggingfaceserver (the image's entrypoint): --model_dir, --model_name, --http_port
    # (kserve/kserve python/huggingfaceserver/huggingfaceserver/__main__.py, python/kserve/kserve/model_server.py).
    return [f"--model_dir={MODEL_PATH_REF}", f"--model_name={name}", f"--http_port={port}"]


_ARGS = {"vllm": _vllm_args, "tgi": _tgi_args, "triton": _triton_args, "kserve-huggingface": _kserve_hf_args}

#: The presets, each from its upstream source.
PRESETS: dict[str, RuntimePreset] = {
    # vLLM's OpenAI server: port 8000, GET /health (200 once the engine is up), /metrics on the same port
    # (vllm-project/vllm vllm/entrypoints/openai/api_server.py; docs "Production metrics").
    # `vllm serve` is the CLI of every recent image, whatever its ENTRYPOINT (docker/Dockerfile's has changed).
    # VLLM_NO_USAGE_STATS: no usage report to stats.vllm.ai (docs "Usage Stats Collection"; egress is denied anyway).
    "vllm": RuntimePreset(port=8000, readiness_path="/health", liveness_path="/health", command=("vllm", "serve"),
                          env={"VLLM_NO_USAGE_STATS": "1"}, hub_offline=True),
    # Hugging Face TGI: GET /health and /metrics on the serving port (router/src/server.rs);
    # the image's entrypoint runs text-generation-launcher with our args (tgi-entrypoint.sh).
    "tgi": RuntimePreset(port=8080, readiness_path="/health", liveness_path="/health", hub_offline=True),
    # Triton: KServe v2 health endpoints; metrics on their own port 8002 (Triton's default; KServe's Triton
    # runtime annotates prometheus.kserve.io/port: '8002').
    "triton": RuntimePreset(port=8000, readiness_path="/v2/health/ready", liveness_path="/v2/health/live", metrics_port=8002),
    # KServe's Hugging Face server: port 8080 (DEFAULT_HTTP_PORT), /v2/health/ready and /v2/health/live
    # (python/kserve/kserve/protocol/rest/v2_endpoints.py, registered for every protocol), /metrics on the same port.
    "kserve-huggingface": RuntimePreset(port=8080, readiness_path="/v2/health/ready", liveness_path="/v2/health/live",
                                        hub_offline=True),
}


class Runtime(Spec):
    """A model server preset: vLLM, TGI, Triton or KServe's Hugging Face server."""

    server: ServerName = Field(description="Which server: 'vllm', 'tgi', 'triton' or 'kserve-huggingface'.")
    served_model_name: str | None = Field(default=None, description="Name clients ask for (vLLM --served-model-name, KServe --model_name). Default: the InferenceService's name.")
    extra_args: list[str] = Field(default_factory=list, description="Arguments after the preset's (e.g. ['--max-model-len', '8192']). Default: none.")

    @property
    def preset(self) -> RuntimePreset:
        return PRESETS[self.server]

    @staticmethod
    def vllm(**options: Any) -> Runtime:
        """vLLM's OpenAI-compatible server (image vllm/vllm-openai)."""
        return Runtime(server="vllm", **options)

    @staticmethod
    def tgi(**options: Any) -> Runtime:
        """Hugging Face Text Generation Inference (image ghcr.io/huggingface/text-generation-inference)."""
        return Runtime(server="tgi", **options)

    @staticmethod
    def triton(**options: Any) -> Runtime:
        """NVIDIA Triton Inference Server (image nvcr.io/nvidia/tritonserver); the model path is a model repository."""
        return Runtime(server="triton", **options)

    @staticmethod
    def kserve_huggingface(**options: Any) -> Runtime:
        """KServe's Hugging Face server (image kserve/huggingfaceserver)."""
        return Runtime(server="kserve-huggingface", **options)


def _coerce(value: Any) -> Any:
    return {"server": value} if isinstance(value, str) else value


#: A preset, or its server name as a string: ``runtime="vllm"``.
RuntimeSpec = Annotated[Runtime, BeforeValidator(_coerce)]


def apply_runtime_defaults(data: Any, service_spec: type[Spec], probes_spec: type[Spec]) -> Any:
    """Fill port, metrics_port and probe paths from the preset where the spec does not set them (raw spec input).

    ``service_spec``/``probes_spec``: InferenceServiceSpec and ProbesSpec, given by inference_service.py (which imports this module)."""
    if not isinstance(data, dict) or data.get("runtime") is None:
        return data
    runtime = data["runtime"]
    server = runtime if isinstance(runtime, str) else runtime.get("server") if isinstance(runtime, dict) else getattr(runtime, "server", None)
    preset = PRESETS.get(server) if isinstance(server, str) else None
    if preset is None:
        return data  # the field's own validation reports the unknown server
    # Raw input names a field by its Python name or its camelCase alias (a YAML blueprint): fill the key given, else the alias.
    filled = dict(data)
    filled.setdefault(field_key(service_spec, filled, "port"), preset.port)
    if preset.metrics_port is not None:
        filled.setdefault(field_key(service_spec, filled, "metrics_port"), preset.metrics_port)
    probes = filled.get("probes")
    if isinstance(probes, Spec):
        probes = probes.model_dump(exclude_unset=True)
    if probes is None or isinstance(probes, dict):
        probes = dict(probes or {})
        probes.setdefault(field_key(probes_spec, probes, "readiness_path"), preset.readiness_path)
        probes.setdefault(field_key(probes_spec, probes, "liveness_path"), preset.liveness_path)
        filled["probes"] = probes
    return filled
