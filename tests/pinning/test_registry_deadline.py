"""An overall deadline for every registry call: a registry that dribbles its answer cannot stall `pin --resolve`.

The socket timeout applies per read; a loopback server that sends one header byte every 50 ms never
trips it. The deadline bounds the whole call (connect, request, status, headers, body, token, redirect).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fake_registry import MANIFEST, FakeRegistry

from mlkube.pinning.auth import Credentials
from mlkube.pinning.registry import DEADLINE_ENV, RegistryClient, RegistryError

#: The dribbler stops by itself after this long (bounds the test even if the client never gives up).
DRIBBLE_LIMIT_SECONDS = 20.0


@contextmanager
def dribbling_registry(stage: str = "headers") -> Iterator[str]:
    """A loopback server that answers every connection one byte at a time (``headers``: inside the
    header block; ``body``: a complete header block announcing a body that then trickles)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(connection: socket.socket) -> None:
        with connection:
            connection.settimeout(1)
            try:
                connection.recv(65536)
                if stage == "body":
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                else:
                    connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                started = time.monotonic()
                while not stop.is_set() and time.monotonic() - started < DRIBBLE_LIMIT_SECONDS:
                    connection.sendall(b"a")
                    time.sleep(0.05)
            except OSError:
                pass  # the client gave up and closed the connection

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.mark.parametrize("stage", ["headers", "body"])
def test_a_dribbling_registry_fails_at_the_deadline(stage: str) -> None:
    with dribbling_registry(stage) as address:
        client = RegistryClient([address], Credentials([]), timeout=15, deadline=1.0)
        started = time.monotonic()
        with pytest.raises(RegistryError, match=rf"the registry {address} did not answer {address}/ml/fraud:1 within 1 s") as caught:
            client.digest(f"{address}/ml/fraud", "1")
        elapsed = time.monotonic() - started
    # Bounded by the deadline, not by the 15 s read timeout nor by the dribbler's 20 s.
    assert elapsed < 8, elapsed
    assert "try again later" in caught.value.hint


def test_resolve_all_reports_the_deadline_for_each_image() -> None:
    with dribbling_registry() as address:
        answers = RegistryClient([address], Credentials([]), deadline=0.5).resolve_all([(f"{address}/ml/a", "1"), (f"{address}/ml/b", "1")])
    assert all(isinstance(answer, RegistryError) and "within 0.5 s" in answer.message for answer in answers.values())


def test_the_deadline_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEADLINE_ENV, "2.5")
    assert RegistryClient().deadline == 2.5
    monkeypatch.setenv(DEADLINE_ENV, "not a number")
    assert RegistryClient().deadline == 60.0


def test_a_prompt_registry_is_unaffected_by_the_deadline() -> None:
    with FakeRegistry({"ml/fraud:1": MANIFEST}, mode="no-digest-header") as registry:
        client = RegistryClient([registry.address], Credentials([]), timeout=5, deadline=5)
        assert client.digest(f"{registry.address}/ml/fraud", "1") == FakeRegistry.digest_of(MANIFEST)


def test_pin_resolve_against_a_dribbling_registry_fails_at_the_deadline_and_changes_nothing(tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner
    from pin_tree import snapshot_tree, write_tree

    from mlkube.cli import main

    dist = write_tree(tmp_path / "dist", ("dev",))
    monkeypatch.setenv(DEADLINE_ENV, "1")
    with dribbling_registry() as address:
        for path in dist.rglob("*.yaml"):
            path.write_text(path.read_text().replace("registry.example.com", address))
        before = snapshot_tree(dist)
        started = time.monotonic()
        result = CliRunner().invoke(main, ["pin", "--dist", str(dist), "--resolve", "--insecure-registry", address])
        elapsed = time.monotonic() - started
    assert result.exit_code != 0 and f"the registry {address} did not answer" in result.output, result.output
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(result.exception, SystemExit)
    assert elapsed < 10, elapsed
    assert snapshot_tree(dist) == before
