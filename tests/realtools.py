"""Real tools for the image tests: a private buildah store, a small Python base image, a registry.

No public registry is reachable, so the tests make their base image themselves: Debian's
python3.11 (binary, standard library, the shared libraries it links, the wheels ``venv`` installs
pip from) and busybox for the shell, committed with ``buildah commit --timestamp 0``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

__all__ = ["Buildah", "buildah_unusable", "make_python_base", "Registry", "free_port", "PYTHON"]

PYTHON = "/usr/bin/python3.11"
_PYTHON_TREES = ("/usr/lib/python3.11", "/usr/share/python-wheels")
_SKIPPED_TREES = ("test", "__pycache__", "idlelib", "tkinter", "turtledemo", "lib2to3", "pydoc_data", "config-3.11-*")


def buildah_unusable() -> str | None:
    """Why buildah cannot build here, or None."""
    missing = [tool for tool in ("buildah", "skopeo", "docker-registry") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed (bin/setup installs bin/apt-packages.txt)"
    if not Path("/bin/busybox").exists() or not Path(PYTHON).exists() or not Path("/usr/share/python-wheels").is_dir():
        return "busybox-static or python3.11 with python3-venv missing (bin/apt-packages.txt)"
    if os.geteuid() != 0:
        return "buildah needs root here (no user namespaces configured)"
    return None


class Buildah:
    """buildah with its own storage under ``root`` (vfs: works on any file system, no mounts to undo)."""

    def __init__(self, root: Path) -> None:
        self.flags = ["--root", str(root / "storage"), "--runroot", str(root / "run"), "--storage-driver", "vfs"]

    def __call__(self, *args: str, cwd: Path | None = None) -> str:
        result = subprocess.run(["buildah", *self.flags, *args], capture_output=True, text=True, cwd=cwd, timeout=600)
        if result.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
        return result.stdout.strip()

    def bud(self, dockerfile: Path, context: Path, tag: str, *extra: str) -> str:
        """Build like CI: fixed timestamps, runc-free chroot isolation, host network, the generated ignore file."""
        return self("bud", "--timestamp", "0", "--isolation", "chroot", "--network", "host", "--layers=false",
                    "-f", str(dockerfile), "--ignorefile", str(dockerfile.parent / ".dockerignore"),
                    "-t", tag, *extra, str(context))

    def run(self, image: str, *command: str) -> str:
        container = self("from", "--pull-never", image)
        try:
            return self("run", "--isolation", "chroot", container, "--", *command)
        finally:
            self("rm", container)


def _shared_libraries(files: list[str]) -> set[str]:
    libraries: set[str] = set()
    for file in files:
        for line in subprocess.run(["ldd", file], capture_output=True, text=True).stdout.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) > 2 and parts[2].startswith("/"):
                libraries.add(parts[2])
            elif parts and parts[0].startswith("/"):
                libraries.add(parts[0])
    return libraries


def _copy_into(root: str, source: str) -> None:
    target = root + source
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.isdir(source):
        shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(*_SKIPPED_TREES), dirs_exist_ok=True)
    else:
        shutil.copy2(source, target, follow_symlinks=True)


def make_python_base(buildah: Buildah, name: str) -> None:
    """Commit a minimal Python 3.11 image (python, pip through venv, busybox sh/id) as ``name``."""
    container = buildah("from", "scratch")
    root = buildah("mount", container)
    try:
        binaries = [PYTHON, *glob.glob("/usr/lib/python3.11/lib-dynload/*.so")]
        for source in [PYTHON, *_PYTHON_TREES, "/bin/busybox", *_shared_libraries(binaries)]:
            _copy_into(root, source)
        for folder in ("usr/local/bin", "tmp", "etc", "root"):
            os.makedirs(f"{root}/{folder}", exist_ok=True)
        os.chmod(f"{root}/tmp", 0o1777)
        os.symlink(PYTHON, f"{root}/usr/local/bin/python")
        for tool in ("sh", "id", "ls", "cat", "tr", "touch", "env"):
            os.symlink("/bin/busybox", f"{root}/bin/{tool}")
        Path(f"{root}/etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        buildah("umount", container)
        buildah("config", "--env", "PATH=/usr/local/bin:/usr/bin:/bin", container)
        buildah("commit", "--timestamp", "0", container, name)
    finally:
        buildah("rm", container)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Registry:
    """A real docker-registry (distribution 2.x) on 127.0.0.1, storing under ``root``."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.config = root / "registry.yaml"
        self.config.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
            f"http:\n  addr: {self.address}\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Registry:
        self.process = subprocess.Popen(["docker-registry", "serve", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                if self.process.poll() is not None:
                    raise AssertionError(f"docker-registry exited: {self.process.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.05)
        self.stop()
        raise AssertionError("docker-registry did not answer within 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
