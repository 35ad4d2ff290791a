"""Models pinned like images: immutable references, production refuses mutable ones, the lock pins them, pin writes it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from helpers import run_mlkube

from mlkube import InferenceService, Model, Platform
from mlkube.core.model import ModelReference
from mlkube.errors import MlkubeError
from mlkube.pinning.lock import LOCK_FILE
from mlkube.pinning.models import HuggingFaceResolver

IMAGE = "ghcr.io/acme/server@sha256:" + "a" * 64
#: Pinned by digest, so that production's image rule passes and only the model rule is judged.
DOWNLOADER = "kserve/storage-initializer@sha256:" + "c" * 64
SHA = "0123456789abcdef0123456789abcdef01234567"
NEW_SHA = "fedcba9876543210fedcba9876543210fedcba98"
NETWORK = {"egress_https_cidrs": ["0.0.0.0/0"]}
ENVIRONMENTS = [{"name": "staging", "network": NETWORK}, {"name": "prod", "production": True, "network": NETWORK}]


def synth(out: Path, model: str, environments: list[dict[str, Any]] | None = None) -> None:
    platform = Platform(environments or ENVIRONMENTS)

    @platform.app("chat")
    def chat(app: Any) -> None:
        InferenceService(app, "server", image=IMAGE, model=Model.from_uri(model, downloader_image=DOWNLOADER))

    platform.synthesize(out)


def downloader_uri(out: Path, env: str) -> str:
    text = (out / env / "chat" / "deployment-server.yaml").read_text()
    return next(line.split("- ", 1)[1] for line in text.splitlines() if line.strip().startswith("- hf://"))


def test_production_refuses_a_model_without_revision(tmp_path: Path) -> None:
    """The issue's failing-before test: prod with hf://org/name fails synth and says how to pin it."""
    with pytest.raises(MlkubeError) as caught:
        synth(tmp_path / "dist", "hf://acme/chat")
    text = str(caught.value)
    assert "model 'hf://acme/chat' can change after review" in text and "'prod' requires pinned models" in text
    assert "pin it as hf://acme/chat@<revision>" in text and "mlkube pin --resolve / --models FILE" in text
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize("uri", ["hf://acme/chat:main", "hf://acme/chat@v1.0", "oci://ghcr.io/acme/chat:latest"])
def test_production_refuses_branches_tags_and_oci_tags(tmp_path: Path, uri: str) -> None:
    with pytest.raises(MlkubeError, match="requires pinned models"):
        synth(tmp_path / "dist", uri, [{"name": "prod", "production": True, "network": NETWORK}])


def test_a_commit_pinned_model_is_downloaded_at_exactly_that_commit(tmp_path: Path) -> None:
    # '@' is mlkube's syntax; KServe's storage initializer reads the revision after ':' (kserve_storage.py _download_hf).
    synth(tmp_path / "dist", f"hf://acme/chat@{SHA}")
    assert downloader_uri(tmp_path / "dist", "prod") == f"hf://acme/chat:{SHA}"


def test_references_know_what_is_immutable() -> None:
    assert ModelReference(f"hf://a/b:{SHA}").immutable and ModelReference(f"hf://a/b@{SHA}").immutable
    assert not ModelReference("hf://a/b").immutable and not ModelReference(f"hf://a/b@{SHA[:39]}").immutable
    assert ModelReference("oci://r.io/m@sha256:" + "b" * 64).immutable and not ModelReference("oci://r.io/m:v1").immutable
    assert not ModelReference("https://example.com/m.bin").pinnable  # no immutable form: a warning only


def test_https_in_production_is_a_warning_that_says_why(tmp_path: Path) -> None:
    platform = Platform([{"name": "prod", "production": True, "network": NETWORK}])

    @platform.app("chat")
    def chat(app: Any) -> None:
        InferenceService(app, "server", image=IMAGE, model=Model.from_uri("https://example.com/chat.bin", downloader_image=DOWNLOADER))

    result = platform.synthesize(tmp_path / "dist")
    assert any("https:// has no immutable form" in warning for warning in result.warnings)


class _HubStandIn(BaseHTTPRequestHandler):
    """GET /api/models/{org}/{name}/revision/{rev} -> {"sha": ...}, like the Hub (huggingface_hub hf_api.py model_info)."""

    shas: ClassVar[dict[str, str]] = {}
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        prefix, _, rest = self.path.partition("/api/models/")
        repo, _, revision = rest.rpartition("/revision/")
        sha = self.shas.get(f"{repo}@{revision}")
        body = json.dumps({"id": repo, "sha": sha}).encode() if sha and not prefix else b'{"error": "Repository not found"}'
        self.send_response(200 if sha and not prefix else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HubStandIn)  # loopback only
    server.timeout = 5
    _HubStandIn.shas, _HubStandIn.seen = {"acme/chat@main": SHA}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_resolver_asks_the_hub_revision_api(hub: str) -> None:
    pinned, url = HuggingFaceResolver(hub, token="hf_x", timeout=5).resolve("hf://acme/chat")
    assert (pinned, url) == (f"hf://acme/chat@{SHA}", f"{hub}/api/models/acme/chat/revision/main")
    assert _HubStandIn.seen == [("/api/models/acme/chat/revision/main", "Bearer hf_x")]


def _lock(out: Path) -> dict[str, Any]:
    return json.loads((out / LOCK_FILE).read_text())


def test_pin_resolve_locks_staging_synth_applies_and_promote_copies_to_prod(tmp_path: Path, hub: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "dist"
    with pytest.raises(MlkubeError):
        synth(out, "hf://acme/chat")  # prod refuses until staging's pin is promoted
    # The CI step that builds: synthesize anyway, pin staging, promote, synthesize again.
    monkeypatch.setenv("MLKUBE_ALLOW_UNPINNED", "1")
    synth(out, "hf://acme/chat")
    monkeypatch.delenv("MLKUBE_ALLOW_UNPINNED")
    result = run_mlkube("pin", "--resolve", "--dist", str(out), env={"HF_ENDPOINT": hub, "MLKUBE_REVISION": "r1"})
    assert result.returncode == 0, result.stderr
    staging = _lock(out)["environments"]["staging"]["models"]
    assert staging == {"hf://acme/chat": {"pinned": f"hf://acme/chat@{SHA}",
                                          "source": {"via": "resolve", "from": f"{hub}/api/models/acme/chat/revision/main", "revision": "r1"}}}
    assert "models" not in _lock(out)["environments"].get("prod", {})  # pin never changes a gated environment
    assert downloader_uri(out, "staging") == f"hf://acme/chat:{SHA}" and downloader_uri(out, "prod") == "hf://acme/chat"
    assert run_mlkube("promote", "staging", "prod", "--dist", str(out)).returncode == 0
    assert _lock(out)["environments"]["prod"]["models"] == staging
    synth(out, "hf://acme/chat")  # prod now serves what staging pinned: no refusal
    assert downloader_uri(out, "staging") == downloader_uri(out, "prod") == f"hf://acme/chat:{SHA}"
    # Pinning again changes nothing; a moved branch re-pins staging only.
    before = (out / LOCK_FILE).read_bytes()
    assert run_mlkube("pin", "--resolve", "--dist", str(out), env={"HF_ENDPOINT": hub, "MLKUBE_REVISION": "r2"}).returncode == 0
    assert (out / LOCK_FILE).read_bytes() == before
    _HubStandIn.shas["acme/chat@main"] = NEW_SHA
    assert run_mlkube("pin", "--resolve", "--dist", str(out), env={"HF_ENDPOINT": hub}).returncode == 0
    lock = _lock(out)["environments"]
    assert lock["staging"]["models"]["hf://acme/chat"]["pinned"] == f"hf://acme/chat@{NEW_SHA}"
    assert downloader_uri(out, "staging") == f"hf://acme/chat:{NEW_SHA}" and downloader_uri(out, "prod") == f"hf://acme/chat:{SHA}"
    assert lock["prod"]["models"]["hf://acme/chat"]["pinned"] == f"hf://acme/chat@{SHA}"


def test_pin_resolve_is_all_or_nothing(tmp_path: Path, hub: str) -> None:
    out = tmp_path / "dist"
    synth(out, "hf://acme/unknown", [{"name": "staging", "network": NETWORK}])
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    result = run_mlkube("pin", "--resolve", "--dist", str(out), env={"HF_ENDPOINT": hub})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "not every model could be pinned; nothing was changed" in result.stderr and "answered HTTP 404" in result.stderr
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before


def test_pin_models_file_from_ci(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    synth(out, "hf://acme/chat", [{"name": "staging", "network": NETWORK}])
    models = tmp_path / "models.json"
    models.write_text(json.dumps({"hf://acme/chat": SHA}))
    result = run_mlkube("pin", "--models", str(models), "--dist", str(out), env={"MLKUBE_REVISION": "r1"})
    assert result.returncode == 0, result.stderr
    assert _lock(out)["environments"]["staging"]["models"]["hf://acme/chat"] == {
        "pinned": f"hf://acme/chat@{SHA}", "source": {"via": "file", "from": str(models), "revision": "r1"}}
    # pin writes the pinned model into the manifests too (byte-preserving), and synth agrees byte for byte.
    assert downloader_uri(out, "staging") == f"hf://acme/chat:{SHA}"
    pinned = {path: path.read_bytes() for path in out.rglob("*.yaml")}
    synth(out, "hf://acme/chat", [{"name": "staging", "network": NETWORK}])
    assert {path: path.read_bytes() for path in out.rglob("*.yaml")} == pinned


@pytest.mark.parametrize(("pins", "message"), [
    ({"hf://acme/other": SHA}, "names a model that no manifest"),
    ({"hf://acme/chat": "main"}, "'main' is not immutable"),
    ({"hf://acme/chat": f"hf://acme/else@{SHA}"}, "another location"),
])
def test_pin_models_file_refuses_what_it_cannot_use(tmp_path: Path, pins: dict[str, str], message: str) -> None:
    out = tmp_path / "dist"
    synth(out, "hf://acme/chat", [{"name": "staging", "network": NETWORK}])
    models = tmp_path / "models.json"
    models.write_text(json.dumps(pins))
    result = run_mlkube("pin", "--models", str(models), "--dist", str(out))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (out / LOCK_FILE).exists()


def test_a_lock_with_a_mutable_model_pin_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    synth(out, "hf://acme/chat", [{"name": "staging", "network": NETWORK}])
    (out / LOCK_FILE).write_text(json.dumps({"version": 1, "environments": {"staging": {"images": {}, "models": {
        "hf://acme/chat": {"pinned": "hf://acme/chat@main", "source": {}}}}}}))
    with pytest.raises(MlkubeError, match=r"environments\.staging\.models\.hf://acme/chat\.pinned"):
        synth(out, "hf://acme/chat", [{"name": "staging", "network": NETWORK}])


def _tree_models_reading_every_file(dist: Path, environments: set[str], lock: Any) -> dict[str, set[str]]:
    """tree_models before issue 22's fix: every file parsed by PyYAML's pure-Python loader (13.7 s of pin at 5k files)."""
    import yaml

    from mlkube.core.model import download_form
    from mlkube.pinning.models import _pins, model_fields
    from mlkube.pinning.tree import _manifest_files

    locked = {(env, download_form(pinned)): uri for env in environments for uri, pinned in _pins(lock, env).items()}
    used: dict[str, set[str]] = {}
    for env, path in _manifest_files(dist):
        if env in environments:
            for obj in yaml.safe_load_all(Path(path).read_text(encoding="utf-8")):
                for found in model_fields(obj) if isinstance(obj, dict) else ():
                    if found.honours_pins:
                        used.setdefault(locked.get((env, found.value), found.value), set()).add(env)
    return used


def test_the_models_pin_finds_are_those_of_parsing_every_file(tmp_path: Path) -> None:
    # Issue 22: pin parses only files that can name a model, with libyaml; the models found must not change,
    # including a model whose key a hand edit spelled with escapes in a double-quoted scalar.
    import shutil

    from helpers import REPO_ROOT

    from mlkube.pinning.lock import load_lock
    from mlkube.pinning.models import tree_models

    dist = tmp_path / "dist"
    shutil.copytree(REPO_ROOT / "dist", dist)
    escaped = dist / "dev" / "hand-edited" / "inferenceservice-x.yaml"
    escaped.parent.mkdir()
    escaped.write_text('apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: x}\n'
                       'spec: {predictor: {model: {"storage\\x55ri": "hf://acme/escaped"}}}\n')
    lock = load_lock(dist)
    environments = {"dev", "staging", "prod"}
    found = tree_models(dist, environments, lock)
    assert found == _tree_models_reading_every_file(dist, environments, lock)
    assert found["hf://acme/escaped"] == {"dev"} and len(found) > 1
