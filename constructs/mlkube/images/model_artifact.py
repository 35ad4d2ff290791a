"""``mlkube model package DIR --to REGISTRY/REPOSITORY:TAG``: a model directory as an OCI image, pushed, by digest.

The layout is the one KServe modelcars read: the model's files under ``/models``, and a static busybox for
``sh``/``ln``/``sleep``/``ls``, the commands KServe's modelcar containers run in the image
(kserve/kserve v0.15.2 pkg/webhook/admission/pod/storage_initializer_injector.go createModelContainer:
``sh -c "ln -sf /proc/$$/root/models /mnt/models && sleep infinity"``; createModelInitContainer checks
``[ -d /models ] && [ "$(ls -A /models)" ]``). mlkube's kubernetes backend copies ``/models`` with that busybox's
``cp`` (InferenceService's model-image init container).

Built with buildah (``buildah from scratch``, ``copy``, ``commit --timestamp 0``, ``push --digestfile``): the same
directory gives the same digest on every machine (toolchain: ``--timestamp 0`` makes buildah's output byte-identical).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..core.image_reference import parse_reference
from ..errors import MlkubeError, Problem

__all__ = ["PackagedModel", "package_model", "MODELS_DIR", "BUSYBOX_TOOLS"]

MODELS_DIR = "/models"
#: Links to busybox in /bin: what KServe's modelcar containers and mlkube's model-image init container run.
BUSYBOX_TOOLS = ("sh", "ln", "sleep", "ls", "cp", "[", "echo", "test")


@dataclass(frozen=True)
class PackagedModel:
    reference: str
    digest: str

    @property
    def pinned(self) -> str:
        """``oci://<repository>@sha256:...``: the immutable model reference."""
        repository = self.reference.rsplit(":", 1)[0] if ":" in self.reference.rsplit("/", 1)[-1] else self.reference
        return f"oci://{repository}@{self.digest}"


def _problems(directory: Path, to: str, busybox: Path) -> list[Problem]:
    problems = []
    if not directory.is_dir() or not any(directory.iterdir()):
        problems.append(Problem(str(directory), "", "is not a folder with the model's files", "give the folder the model server loads"))
    reference = parse_reference(to)
    if reference is None or reference.digest or "/" not in to:
        problems.append(Problem("--to", "", f"{to!r} is not REGISTRY/REPOSITORY:TAG", "e.g. --to ghcr.io/acme/models/fraud:v3"))
    if not busybox.is_file():
        problems.append(Problem("--busybox", "", f"{busybox} does not exist",
                                "install a static busybox (Debian: busybox-static, /bin/busybox), or pass --busybox PATH"))
    if shutil.which("buildah") is None:
        problems.append(Problem("buildah", "", "buildah is not installed", "apt-get install buildah (Debian 12: 1.28)"))
    return problems


class _Buildah:
    def __init__(self, storage: Path | None) -> None:
        self.flags = ["--root", str(storage / "storage"), "--runroot", str(storage / "run"), "--storage-driver", "vfs"] if storage else []

    def __call__(self, *args: str) -> str:
        result = subprocess.run(["buildah", *self.flags, *args], capture_output=True, text=True, timeout=3600, check=False)
        if result.returncode != 0:
            raise MlkubeError.single(f"buildah {args[0]} failed ({result.returncode}): {result.stderr.strip()[-1500:]}",
                                     hint="check the registry address, --insecure for a plain-HTTP registry, and buildah's storage")
        return result.stdout.strip()


def _tools_tree(root: Path, busybox: Path) -> None:
    (root / "bin").mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    (root / "bin" / "busybox").chmod(0o755)
    for tool in BUSYBOX_TOOLS:
        (root / "bin" / tool).symlink_to("busybox")


def package_model(directory: Path, to: str, *, busybox: Path, insecure: bool = False, storage: Path | None = None,
                  digest_file: Path | None = None) -> PackagedModel:
    """Build the model image from ``directory`` and push it to ``to``; its manifest digest (what the registry serves for the tag)."""
    problems = _problems(directory, to, busybox)
    if problems:
        raise MlkubeError(problems, title="the model cannot be packaged")
    buildah = _Buildah(storage)
    container = buildah("from", "scratch")
    try:
        with tempfile.TemporaryDirectory(prefix="mlkube-model-") as scratch:
            _tools_tree(Path(scratch) / "tools", busybox)
            buildah("copy", "--chown", "0:0", container, str(Path(scratch) / "tools"), "/")
        # Files readable by any UID (the server runs as a non-root user); directories traversable.
        buildah("copy", "--chown", "0:0", "--chmod", "0755", container, str(directory), MODELS_DIR)
        buildah("config", "--label", "org.opencontainers.image.title=" + directory.name, "--workingdir", MODELS_DIR,
                "--user", "65532:65532", container)
        buildah("commit", "--timestamp", "0", "--omit-history", "--quiet", container, to)
    finally:
        subprocess.run(["buildah", *buildah.flags, "rm", container], capture_output=True, timeout=120, check=False)
    with tempfile.TemporaryDirectory(prefix="mlkube-push-") as scratch:
        written = digest_file or Path(scratch) / "digest"
        buildah("push", "--quiet", "--digestfile", str(written), f"--tls-verify={'false' if insecure else 'true'}", to, f"docker://{to}")
        digest = written.read_text(encoding="utf-8").strip()
    return PackagedModel(to, digest)
