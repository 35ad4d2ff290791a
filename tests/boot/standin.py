"""Stand-in images for `mlkube boot` tests: static busybox and one script that behaves like a model server,
a trainer or a model downloader (its role is the image's STANDIN_ROLE), in a private podman/buildah store."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["STANDIN_SCRIPT", "CACHE_VARIABLES", "PodmanStore", "podman_unusable"]

#: HOME and what ML software writes (mlkube.core.pod: the writable home and its cache variables).
CACHE_VARIABLES = ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "HF_HOME", "TORCH_HOME", "TORCHINDUCTOR_CACHE_DIR",
                   "TRITON_CACHE_DIR", "NUMBA_CACHE_DIR", "MPLCONFIGDIR", "VLLM_CACHE_ROOT", "VLLM_CONFIG_ROOT", "CUDA_CACHE_PATH")

STANDIN_SCRIPT = r"""#!/bin/sh
# A stand-in for a model downloader, a model server or a trainer: it does what they do to the file system.
fail() { echo "STANDIN FAIL $(hostname): $*"; exit 3; }
# mlkube's model downloader for s3:// and gs:// is `python3 -c <program> URI DEST` in the storage-initializer image.
if [ "$STANDIN_ROLE" = downloader ] && [ "$1" = "-c" ]; then shift 2; fi
echo "STANDIN start role=$STANDIN_ROLE host=$(hostname) uid=$(id -u) gid=$(id -g) groups=$(id -G) HOME=${HOME:-unset} args=$*"
case "$*" in *'$('*) fail "an unexpanded reference in the arguments: $*";; esac
if [ "$STANDIN_ROLE" = downloader ]; then
  mkdir -p "$2" && echo "weights of $1" > "$2/model.bin" || fail "cannot write the model into $2"
  echo "STANDIN downloaded $1 into $2"
  exit 0
fi
touch /standin-probe 2>/dev/null && fail "the root file system is writable"
echo ok > /tmp/standin-probe || fail "cannot write /tmp"
for var in CACHE_VARIABLES; do
  eval dir="\${$var:-}"
  [ -n "$dir" ] || fail "$var is not set"
  mkdir -p "$dir" && echo ok > "$dir/standin-probe" || fail "cannot write $var=$dir"
done
mkdir -p "$HOME/.cache/standin" && echo ok > "$HOME/.cache/standin/probe" || fail "cannot write \$HOME/.cache"
echo "STANDIN wrote HOME, /tmp and every cache variable"
if grep -q " /dev/shm " /proc/mounts; then
  echo "STANDIN /dev/shm is $(grep " /dev/shm " /proc/mounts | cut -d' ' -f3,4)"
  echo ok > /dev/shm/standin-probe || fail "cannot write /dev/shm"
fi
for secret in /var/run/secrets/*/*; do
  [ -f "$secret" ] || continue
  cat "$secret" > /dev/null || fail "cannot read the secret file $secret"
  echo "STANDIN read $secret"
done
if [ "$STANDIN_ROLE" = job ]; then
  [ "${NODE_RANK:-0}" = "${JOB_COMPLETION_INDEX:-0}" ] || fail "NODE_RANK=$NODE_RANK but JOB_COMPLETION_INDEX=$JOB_COMPLETION_INDEX"
  out=""; previous=""
  for arg in "$@"; do [ "$previous" = --output-dir ] && out="$arg"; previous="$arg"; done
  if [ -n "$out" ] && [ "${NODE_RANK:-0}" = 0 ]; then
    mkdir -p "$out/final" && echo "weights trained on $(hostname)" > "$out/final/model.bin" || fail "cannot write the checkpoint $out"
    echo "STANDIN wrote the checkpoint $out/final/model.bin"
  fi
  echo "STANDIN job done"
  exit 0
fi
if [ -n "${MODEL_PATH:-}" ]; then
  waited=0
  while [ ! -f "$MODEL_PATH/model.bin" ] && [ $waited -lt 60 ]; do sleep 1; waited=$((waited + 1)); done
  [ -f "$MODEL_PATH/model.bin" ] || fail "no model in $MODEL_PATH"
  echo "STANDIN loaded $(cat "$MODEL_PATH/model.bin") from $MODEL_PATH"
  touch "$MODEL_PATH/standin-probe" 2>/dev/null && fail "the model volume is writable for the server"
fi
echo "STANDIN serving"
exec sleep 3600
""".replace("CACHE_VARIABLES", " ".join(CACHE_VARIABLES))


def podman_unusable() -> str | None:
    """Why podman cannot run containers here, or None."""
    missing = [tool for tool in ("podman", "buildah", "catatonit") if shutil.which(tool) is None and not Path(f"/usr/libexec/podman/{tool}").exists()]
    if missing:
        return f"{', '.join(missing)} not installed (bin/setup installs bin/apt-packages.txt)"
    if not Path("/bin/busybox").exists():
        return "busybox-static is not installed (bin/apt-packages.txt)"
    if os.geteuid() != 0:
        return "podman needs root here (no user namespaces configured)"
    return None


class PodmanStore:
    """A private image store (vfs) for buildah and podman, chosen through CONTAINERS_STORAGE_CONF."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        conf = root / "storage.conf"
        conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{root / "storage"}"\nrunroot = "{root / "run"}"\n')
        (root / "containers.conf").write_text("[containers]\ndefault_ulimits = []\n")
        self.env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf), "CONTAINERS_CONF": str(root / "containers.conf")}

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(list(command), env=self.env, capture_output=True, text=True, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done

    def build_standin(self, tag: str, role: str) -> str:
        """busybox-static, the stand-in script as entrypoint (and as torchrun), no HOME, no USER: like vllm/vllm-openai."""
        container = self.run("buildah", "from", "scratch").stdout.strip()
        try:
            mount = Path(self.run("buildah", "mount", container).stdout.strip())
            (mount / "bin").mkdir()
            shutil.copy2("/bin/busybox", mount / "bin" / "busybox")
            for tool in ("sh", "id", "hostname", "mkdir", "cat", "touch", "sleep", "echo", "grep", "cut"):
                (mount / "bin" / tool).symlink_to("busybox")
            (mount / "usr" / "local" / "bin").mkdir(parents=True)
            script = mount / "usr" / "local" / "bin" / "standin"
            script.write_text(STANDIN_SCRIPT)
            script.chmod(0o755)
            # The commands the example's workloads run: torchrun (trainer), vllm (the vLLM runtime preset).
            # python3: the command of mlkube's model downloader for s3:// and gs:// (mlkube.core.model.downloader_command).
            for command in ("torchrun", "vllm", "python3"):
                (mount / "usr" / "local" / "bin" / command).symlink_to("standin")
            self.run("buildah", "config", "--entrypoint", '["/usr/local/bin/standin"]', "--cmd", "",
                     "--env", "PATH=/usr/local/bin:/bin", "--env", f"STANDIN_ROLE={role}", container)
            self.run("buildah", "commit", "--quiet", "--timestamp", "0", container, tag)
        finally:
            self.run("buildah", "rm", container, check=False)
        return tag
