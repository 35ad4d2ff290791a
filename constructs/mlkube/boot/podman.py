"""Run pods in podman the way a kubelet runs them, wait for them, report, and tear everything down.

Each pod is a podman pod (``--network none``: nothing is pulled or reached; the pod keeps its loopback) that
shares net, ipc and uts like a Kubernetes pod. Containers start in the kubelet's order: init containers one
after the other, each to a zero exit; a native sidecar (an init container with ``restartPolicy: Always``)
only has to be running before the next one starts; then the main containers. Each container runs under its
security context: user and group, fsGroup and supplemental groups, a read-only root with no tmpfs added
(``--read-only-tmpfs=false``), capabilities, no privilege escalation, seccomp. Resource limits and GPUs are
not applied.

What "ready" means here, honestly: without a network, httpGet, tcpSocket and grpc probes cannot be asked
from outside, so a long-running container is ready when it is running and has not exited for
``settle_seconds`` (an exec readinessProbe is also run); a Job's pod is done when every main container has
exited, and succeeded when each exited 0.
"""

from __future__ import annotations

import fnmatch
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EXIT_FINDINGS, EXIT_USER_ERROR, MlkubeError, Problem
from ..kube.loader import load_manifests
from .environment import AppObjects, ConfigError, resolve_container
from .expansion import expand
from .pods import PodToBoot, Skipped, pods_to_boot
from .volumes import MadeVolume, make_volumes, unmount_all

__all__ = ["BootOptions", "BootReport", "ContainerResult", "boot", "map_image", "podman_run_args"]

#: This sandbox (and some CI runners) refuse to set rlimits: podman's default ulimits make every container
#: fail with "error setting rlimits ... operation not permitted" (../shared/notes/toolchain.md).
CONTAINERS_CONF = "[containers]\ndefault_ulimits = []\n"
#: The label on every pod of one boot, so that teardown finds them all.
BOOT_LABEL = "mlkube.dev/boot"


@dataclass(frozen=True)
class BootOptions:
    image_map: tuple[tuple[str, str], ...] = ()  # (pattern, stand-in image): first match wins
    timeout_seconds: float = 120.0
    settle_seconds: float = 3.0
    show_logs: bool = False  # print every container's last log lines, not only those of failed ones
    podman: str = "podman"


@dataclass
class ContainerResult:
    pod: str
    container: str
    role: str  # init, sidecar, main
    state: str  # exited, running, not started, not created
    exit_code: int | None = None
    ok: bool = False
    message: str = ""
    logs: str = ""

    def line(self) -> str:
        code = f" (exit code {self.exit_code})" if self.exit_code is not None else ""
        text = f"{'ok  ' if self.ok else 'FAIL'} {self.pod}/{self.container} [{self.role}]: {self.state}{code}"
        return text + (f": {self.message}" if self.message else "")


@dataclass
class BootReport:
    results: list[ContainerResult] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(result.ok for result in self.results)


def map_image(image: str, image_map: tuple[tuple[str, str], ...]) -> str:
    for pattern, stand_in in image_map:
        if fnmatch.fnmatchcase(image, pattern):
            return stand_in
    return image


# -- podman arguments -----------------------------------------------------------------------------


def _security(pod: PodToBoot, container: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return pod.spec.get("securityContext") or {}, container.get("securityContext") or {}


def _effective(name: str, pod_context: dict[str, Any], context: dict[str, Any]) -> Any:
    return context[name] if name in context else pod_context.get(name)


def podman_run_args(pod: PodToBoot, pod_name: str, container: dict[str, Any], image: str, env: dict[str, str],
                    command: list[str] | None, args: list[str] | None, volumes: dict[str, MadeVolume]) -> list[str]:
    """``podman run`` arguments for one container (without ``podman run`` itself)."""
    pod_context, context = _security(pod, container)
    run = ["-d", "--pod", pod_name, "--name", f"{pod_name}-{container['name']}", "--pull", "never"]
    user, group = _effective("runAsUser", pod_context, context), _effective("runAsGroup", pod_context, context)
    if user is not None:
        run += ["--user", f"{user}:{group}" if group is not None else str(user)]
    for extra in [pod_context.get("fsGroup"), *(pod_context.get("supplementalGroups") or [])]:
        if extra is not None:
            run += ["--group-add", str(extra)]
    if context.get("readOnlyRootFilesystem"):
        run += ["--read-only", "--read-only-tmpfs=false"]  # Kubernetes adds no writable /tmp: only volumes are writable
    capabilities = context.get("capabilities") or {}
    run += [f"--cap-drop={cap}" for cap in capabilities.get("drop") or []]
    run += [f"--cap-add={cap}" for cap in capabilities.get("add") or []]
    if context.get("allowPrivilegeEscalation") is False:
        run += ["--security-opt", "no-new-privileges"]
    if context.get("privileged"):
        run += ["--privileged"]
    seccomp = (_effective("seccompProfile", pod_context, context) or {}).get("type")
    if seccomp == "Unconfined":
        run += ["--security-opt", "seccomp=unconfined"]  # RuntimeDefault is podman's default profile
    if container.get("workingDir"):
        run += ["--workdir", str(container["workingDir"])]
    for key in sorted(env):
        run += ["--env", f"{key}={env[key]}"]
    for mount in container.get("volumeMounts") or []:
        run += ["--mount", _mount(mount, volumes, env)]
    if command:
        run += ["--entrypoint", json.dumps(command)]  # podman then drops the image's CMD, as Kubernetes does
    return [*run, image, *(args or [])]


def _mount(mount: dict[str, Any], volumes: dict[str, MadeVolume], env: dict[str, str]) -> str:
    volume = volumes.get(str(mount["name"]))
    if volume is None:
        raise ConfigError(f"volumeMount {mount['name']!r} names no volume of the pod")
    source = volume.path
    sub_path = mount.get("subPath") or (expand(str(mount["subPathExpr"]), env) if mount.get("subPathExpr") else "")
    if sub_path:
        source = source / sub_path
        if not source.exists():  # the kubelet creates a missing subPath
            source.mkdir(parents=True)
            source.chmod(0o2777)
    read_only = volume.read_only or bool(mount.get("readOnly"))
    return f"type=bind,source={source},destination={mount['mountPath']}" + (",ro=true" if read_only else "")


# -- the run ----------------------------------------------------------------------------------------


class _Podman:
    def __init__(self, executable: str, conf: Path) -> None:
        self.executable = executable
        # With CONTAINERS_CONF set, podman 4.3 reads only that file (containers.conf(5)): one the user set wins.
        self.env = {"CONTAINERS_CONF": str(conf), **os.environ}

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """podman's answer; one that takes longer than ``timeout`` is exit code 124 (as timeout(1) reports it)."""
        try:
            return subprocess.run([self.executable, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess([self.executable, *args], 124, "", f"podman {args[0]} did not answer in {timeout:g}s")

    def states(self, names: list[str]) -> dict[str, dict[str, Any]]:
        done = self("container", "inspect", *names) if names else None
        if done is None or not done.stdout.strip():
            return {}
        return {str(item["Name"]): item["State"] for item in json.loads(done.stdout)}

    def logs(self, name: str) -> str:
        done = self("logs", "--tail", "15", name)
        return (done.stdout + done.stderr).strip()


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM tears down like Ctrl-C does."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _uninterruptible() -> Iterator[None]:
    """A second Ctrl-C must not leave half of the pods behind: teardown runs to its end."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def boot(folder: Path, options: BootOptions, echo: Callable[[str], None] = print) -> BootReport:
    manifests = load_manifests([folder])
    pods, skipped, problems = pods_to_boot(manifests)
    if problems:
        raise MlkubeError(problems, title="some workloads cannot be booted")
    if not pods:
        operator_run = "; ".join(f"{skip.workload}: {skip.reason}" for skip in skipped)
        raise MlkubeError.single(f"{folder} has no workload mlkube boot can run",
                                 hint=operator_run or "give an app folder of a synthesized tree, e.g. dist/dev/<app>")
    if shutil.which(options.podman) is None:
        raise MlkubeError.single(f"{options.podman} is not installed", hint="apt-get install podman catatonit")
    objects = AppObjects.from_manifests([m.obj for m in manifests])
    report = BootReport(skipped=skipped)
    with tempfile.TemporaryDirectory(prefix="mlkube-boot-", ignore_cleanup_errors=True) as scratch:
        root = Path(scratch)
        (root / "containers.conf").write_text(CONTAINERS_CONF)
        podman = _Podman(options.podman, root / "containers.conf")
        _check_images(pods, options, podman)
        run_id = f"mlkube-boot-{secrets.token_hex(3)}"
        created: list[str] = []
        mounted: list[Path] = []
        try:
            with _terminate_as_interrupt():
                _run(pods, options, podman, objects, root, run_id, created, mounted, report, echo)
        finally:
            with _uninterruptible():
                _tear_down(podman, run_id, created)
                unmount_all(mounted)
    return report


def _tear_down(podman: _Podman, run_id: str, created: list[str]) -> None:
    """Remove every pod of this run (and so its containers): by name, then any other carrying the run's label."""
    for pod_name in created:
        podman("pod", "rm", "--force", "--time", "0", "--ignore", pod_name, timeout=120)
    labelled = podman("pod", "ps", "--quiet", "--filter", f"label={BOOT_LABEL}={run_id}").stdout.split()
    if labelled:
        podman("pod", "rm", "--force", "--time", "0", "--ignore", *labelled, timeout=120)


def _check_images(pods: list[PodToBoot], options: BootOptions, podman: _Podman) -> None:
    """Every image (after --image-map) must already be here: boot never pulls."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for pod in pods:
        for group in ("initContainers", "containers"):
            for index, container in enumerate(pod.spec.get(group) or []):
                image = map_image(str(container.get("image", "")), options.image_map)
                if image in seen:
                    continue
                seen.add(image)
                if podman("image", "exists", image).returncode != 0:
                    problems.append(Problem(pod.workload, f"spec.{group}[{index}].image",
                                            f"image {image} is not in local storage and mlkube boot never pulls",
                                            hint=f"build or load it, or map it to a local stand-in: --image-map '{container.get('image')}=IMAGE' (patterns may use *)"))
    if problems:
        raise MlkubeError(problems, title="some images are not available locally", exit_code=EXIT_USER_ERROR)


def _run(pods: list[PodToBoot], options: BootOptions, podman: _Podman, objects: AppObjects, root: Path, run_id: str,
         created: list[str], mounted: list[Path], report: BootReport, echo: Callable[[str], None]) -> None:
    deadline = time.monotonic() + options.timeout_seconds
    started: dict[str, tuple[PodToBoot, dict[str, Any], str, ContainerResult]] = {}  # container name -> (pod, spec, role, result)
    for pod in pods:
        pod_name = f"{run_id}-{pod.name}"[:253]
        share = ["--share", "ipc,net,uts,pid"] if pod.spec.get("shareProcessNamespace") else []
        created.append(pod_name)  # before creating it: an interrupt during `pod create` still removes it
        done = podman("pod", "create", "--name", pod_name, "--network", "none", "--hostname", pod.hostname[:63],
                      "--label", f"{BOOT_LABEL}={run_id}", *share)
        if done.returncode != 0:
            raise MlkubeError.single(f"podman cannot create a pod: {done.stderr.strip()}", exit_code=EXIT_FINDINGS,
                                     hint="podman needs catatonit (apt-get install catatonit)")
        echo(f"booting {pod.workload} as pod {pod.name}")
        _start_pod(pod, pod_name, options, podman, objects, root, mounted, report, started, deadline)
    _wait(options, podman, report, started, deadline)
    for result in report.results:
        echo(result.line())
        if result.logs and (options.show_logs or not result.ok):
            echo("    " + result.logs.replace("\n", "\n    "))
    for skip in report.skipped:
        echo(f"skip {skip.workload}: {skip.reason}")
    for note in report.notes:
        echo(f"note {note}")


def _start_pod(pod: PodToBoot, pod_name: str, options: BootOptions, podman: _Podman, objects: AppObjects, root: Path,
               mounted: list[Path], report: BootReport, started: dict[str, Any], deadline: float) -> None:
    containers = [(c, "sidecar" if c.get("restartPolicy") == "Always" else "init") for c in pod.spec.get("initContainers") or []]
    containers += [(c, "main") for c in pod.spec.get("containers") or []]
    results = [ContainerResult(pod.name, str(c["name"]), role, "not started") for c, role in containers]
    report.results += results
    try:
        volumes = make_volumes(pod, root, objects, mounted)
    except (ConfigError, OSError) as error:
        results[0].message = f"pod not started: {error}"
        return
    report.notes += [f"{pod.name}: {volume.note}" for volume in volumes.values() if volume.note]
    for (container, role), result in zip(containers, results, strict=True):
        name = f"{pod_name}-{container['name']}"
        try:
            resolved = resolve_container(pod, container, objects)
            _verify_non_root(pod, container, map_image(str(container["image"]), options.image_map), podman)
            args = podman_run_args(pod, pod_name, container, map_image(str(container["image"]), options.image_map),
                                   resolved.env, resolved.command, resolved.args, volumes)
        except ConfigError as error:
            result.state, result.message = "not created", f"CreateContainerConfigError: {error}"
            return
        done = podman("run", *args)
        if done.returncode != 0:
            result.state, result.message = "not created", done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "podman run failed"
            return
        _note_probes(pod, container, report)
        if role == "init":
            remaining = max(1.0, deadline - time.monotonic())
            try:
                waited = podman("wait", name, timeout=remaining)
                code = int(waited.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):  # no exit code: podman timed out or failed
                result.state, result.message, result.logs = "running", "init container did not finish in time", podman.logs(name)
                return
            result.state, result.exit_code, result.ok = "exited", code, code == 0
            if code != 0 or options.show_logs:
                result.logs = podman.logs(name)
            if code != 0:
                return  # the next containers never start
        else:
            started[name] = (pod, container, role, result)
            if role == "sidecar" and not _wait_running(podman, name, deadline):
                result.state, result.logs = "exited", podman.logs(name)
                return


def _verify_non_root(pod: PodToBoot, container: dict[str, Any], image: str, podman: _Podman) -> None:
    """The kubelet's runAsNonRoot check (pkg/kubelet/kuberuntime/security_context_others.go verifyRunAsNonRoot)."""
    pod_context, context = _security(pod, container)
    if not _effective("runAsNonRoot", pod_context, context):
        return
    user = _effective("runAsUser", pod_context, context)
    if user is not None:
        if int(user) == 0:
            raise ConfigError("container's runAsUser breaks non-root policy")
        return
    done = podman("image", "inspect", "--format", "{{.Config.User}}", image)
    image_user = done.stdout.strip().split(":")[0]
    if image_user in ("", "0", "root"):
        raise ConfigError("container has runAsNonRoot and image will run as root")
    if not image_user.isdigit():
        raise ConfigError(f"container has runAsNonRoot and image has non-numeric user ({image_user}), cannot verify user is non-root")


def _note_probes(pod: PodToBoot, container: dict[str, Any], report: BootReport) -> None:
    unasked = [f"{probe} {kind}" for probe in ("startupProbe", "readinessProbe", "livenessProbe")
               for kind in ("httpGet", "tcpSocket", "grpc") if kind in (container.get(probe) or {})]
    if unasked:
        report.notes.append(f"{pod.name}/{container['name']}: {', '.join(unasked)} not asked (no network); "
                            "ready = running for the settle time")


def _wait_running(podman: _Podman, name: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        state = podman.states([name]).get(name, {})
        if state.get("Status") == "running":
            return True
        if state.get("Status") in ("exited", "stopped"):
            return False
        time.sleep(0.2)
    return False


def _wait(options: BootOptions, podman: _Podman, report: BootReport, started: dict[str, Any], deadline: float) -> None:
    """Until every Job pod's main containers exited and every long-running container ran for the settle time."""
    first_seen_running: dict[str, float] = {}
    names = list(started)
    states: dict[str, dict[str, Any]] = {}
    while True:
        states = podman.states(names)
        now = time.monotonic()
        pending = False
        for name in names:
            pod, _, role, _ = started[name]
            status = states.get(name, {}).get("Status")
            if status == "running":
                first_seen_running.setdefault(name, now)
            if pod.completes and role == "main":
                pending |= status not in ("exited", "stopped")
            elif not (pod.completes and role == "sidecar"):
                pending |= status == "running" and now - first_seen_running[name] < options.settle_seconds
                pending |= status in ("created", "configured", "initialized")
        if not pending or now > deadline:
            break
        time.sleep(0.3)
    for name in names:
        pod, container, role, result = started[name]
        state = states.get(name, {})
        status = str(state.get("Status", "unknown"))
        if status in ("exited", "stopped"):
            result.state, result.exit_code = "exited", int(state.get("ExitCode", -1))
            result.ok = pod.completes and role == "main" and result.exit_code == 0
            if not result.ok and not (pod.completes and role == "main"):
                result.message = "a long-running container exited (the kubelet would restart it)"
        else:
            result.state = status
            if pod.completes and role == "main":
                result.message = f"still running after {options.timeout_seconds:g}s"
            else:
                result.ok = status == "running" and _exec_probe(podman, name, container)
                if status == "running" and not result.ok:
                    result.message = "exec readinessProbe failed"
        if not result.ok or options.show_logs:
            result.logs = podman.logs(name)


def _exec_probe(podman: _Podman, name: str, container: dict[str, Any]) -> bool:
    command = ((container.get("readinessProbe") or {}).get("exec") or {}).get("command")
    if not command:
        return True
    return podman("exec", name, *map(str, command), timeout=30).returncode == 0
