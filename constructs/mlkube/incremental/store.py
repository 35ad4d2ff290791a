"""Per-object results of synth, kept between runs outside the config repo (incremental synth, issue 22).

An object's *input* is everything its per-object results depend on: its final dict (after every
transform), its construct path, app and environment, the environment's settings, and mlkube
itself (a fingerprint of its files, Python and the schema and YAML packages). The digest of that
input keys five results, each a pure function of it:

* the rendered YAML (``render.to_yaml``);
* that schema validation found nothing, under which schema catalog (settings and CRD schema files;
  only "clean" is kept: a failing object is checked again);
* that the API server's rules found nothing (likewise);
* the hits of every policy rule that looked only at the object (``incremental.policy``), and which
  rules read the neighbours (NetworkPolicy coverage): those run again on every synth.
* its model fields (``pinning.models.model_places``), which the pinned-model check reads.

Checks over several objects keep keys of what they found clean (``clean_before``/``clean_now``): the checks across
objects, volume sharing and tenancy per namespace (incremental/namespaces.py), the connectivity check per group of
connections (incremental/connectivity.py); every other step runs on every synth. A result is only ever reused for an
input with the same digest, so the cache cannot change the output; ``tests/test_incremental.py`` compares cached
and uncached trees byte for byte.

The key is BLAKE2b over ``pickle`` of the object (without pickle's memo, so shared strings do not
change the bytes), not over JSON: pickle writes back exactly the value it was given (it tells 1
from True and 1.0, "1" from 1 as a key, a tuple from a list, which JSON merges), so two inputs with
one key are equal; two equal dicts built in another key order get two keys, which only costs a miss.

Stored in SQLite (the standard library's; one file per output folder) under
``$MLKUBE_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlkube``, else ``~/.cache/mlkube``. Every row has a
checksum of its results and one of its YAML (``sum``: ``<results>:<yaml>``): a row whose results fail
theirs, or a file SQLite cannot read, is ignored (and the file started again), never fatal; YAML that
fails its own is rendered again. A re-synth reads the results of every object but the YAML (about 2 KB
an object) only of files it cannot link, and checks it then. ``mlkube synth --no-cache``
(``MLKUBE_NO_CACHE=1``) neither reads nor writes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..kube.manifest import Manifest

if TYPE_CHECKING:
    from ..core.platform import Platform

__all__ = ["Entry", "ObjectStore", "cache_folder", "fingerprint", "CACHE_ENV", "NO_CACHE_ENV"]

#: Moves the cache (default: $XDG_CACHE_HOME/mlkube, else ~/.cache/mlkube).
CACHE_ENV = "MLKUBE_CACHE_DIR"
#: Set to 1 to neither read nor write the cache (``mlkube synth --no-cache``).
NO_CACHE_ENV = "MLKUBE_NO_CACHE"
#: Changes when what a row holds changes: rows of another format are never read.
FORMAT = "4"
#: A cache file unused this long is removed (one file per output folder ever synthesized).
_STALE_SECONDS = 30 * 24 * 3600


@dataclass(slots=True)  # one per object for the whole synth: no __dict__
class Entry:
    """The per-object results for one input digest."""

    #: The rendered YAML on its way from a worker; None once the store keeps it out of memory (``has_yaml``).
    yaml: bytes | None = None
    #: The schema catalog (``catalog_key``) under which schema validation found nothing; None: not checked or not clean.
    schema_clean: str | None = None
    apiserver_clean: bool = False
    #: The policy rules that read other objects (run again every synth); None: the policy was not run yet.
    policy_rereads: tuple[str, ...] | None = None
    #: Rule ID -> hits (field, message, severity) of the other rules, those that found something.
    policy_hits: dict[str, list[tuple[str, str, str | None]]] = field(default_factory=dict)
    #: The YAML was rendered: it is in the cache file's row (an entry read from it) or in the store's spill file.
    has_yaml: bool = False
    #: The model URIs in the object (``pinning.models.model_places``: field path, value, whether a pin is honoured);
    #: None: not looked for yet.
    models: tuple[tuple[str, str, bool], ...] | None = None

    def checks_json(self) -> str:
        return json.dumps({"schema": self.schema_clean, "apiserver": self.apiserver_clean, "rereads": self.policy_rereads,
                           "hits": self.policy_hits, "models": self.models}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_row(cls, yaml: bytes | None, checks: str) -> Entry:
        """The entry of a row (its YAML stays in the cache file: ``has_yaml``)."""
        return parse_row(checks, yaml is not None, {})


#: What a row's results parse to (``_parse_results``), shared by the entries of one read with the same text.
_Results = tuple[str | None, bool, tuple[str, ...] | None, dict[str, list[tuple[str, str, str | None]]], tuple[tuple[str, str, bool], ...] | None]


def parse_row(checks: str, has_yaml: bool, parsed: dict[str, _Results]) -> Entry:
    """The entry of a row's results. Most objects have the same results text (clean, the same rules to rerun), so
    ``parsed`` keeps each text's parse for the rows read with it (their ``policy_hits`` are read, never changed:
    ``ObjectStore.computing`` copies them)."""
    results = parsed.get(checks)
    if results is None:
        results = parsed[checks] = _parse_results(checks)
    schema, apiserver, rereads, hits, models = results
    return Entry(None, schema, apiserver, rereads, hits, has_yaml, models)


def _parse_results(checks: str) -> _Results:
    data = json.loads(checks)
    rereads = data.get("rereads")
    hits = {str(rule): [(str(f), str(m), s) for f, m, s in found] for rule, found in (data.get("hits") or {}).items()}
    schema = data.get("schema")
    models = data.get("models")
    return (schema if isinstance(schema, str) else None, data.get("apiserver") is True,
            tuple(str(rule) for rule in rereads) if rereads is not None else None, hits,
            tuple((str(path), str(value), honoured is True) for path, value, honoured in models) if models is not None else None)


class _Spill:
    """The YAML rendered in this run, in an unnamed temporary file ($TMPDIR) rather than in this process's memory
    (issue 22: about 2 KB per object), until the cache file is written: offset and size by digest. Where the file
    cannot be written (a full disk), the YAML is kept in memory, as before."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._end = 0
        self._reading = False
        #: digest -> offset << 32 | size (one int per object)
        self._where: dict[str, int] = {}
        self._in_memory: dict[str, bytes] = {}
        self._broken = False

    def put(self, digest: str, data: bytes) -> None:
        if self._broken:
            self._in_memory[digest] = data
            return
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="mlkube-synth-")  # noqa: SIM115 (closed by close(), after the save)
            if self._reading:
                self._file.seek(self._end)
                self._reading = False
            self._file.write(data)
        except OSError:
            self._broken = True  # what the file holds from here on is unknown: nothing more is written to it
            self._in_memory[digest] = data
            return
        self._where[digest] = self._end << 32 | len(data)
        self._end += len(data)

    def get(self, digest: str) -> bytes | None:
        where = self._where.get(digest)
        if where is None or self._file is None:
            return self._in_memory.get(digest)
        size = where & 0xFFFFFFFF
        try:
            self._file.seek(where >> 32)  # flushes what was written
            self._reading = True
            data = self._file.read(size)
        except OSError:
            self._broken = True
            return None  # rendered again where needed; the cache row is then saved without it
        return data if len(data) == size else None

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):  # a full disk: what it held is no longer needed
                self._file.close()
            self._file = None
        self._where, self._in_memory = {}, {}


def serialized(value: Any) -> bytes:
    """``value`` as pickle writes it without its memo: equal values give equal bytes whether or not they
    share objects (with the memo, a string used twice is written once, so the bytes would follow identity)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.fast = True  # no memo (a cycle raises instead of being written as a reference)
    pickler.dump(value)
    return buffer.getvalue()


def catalog_key(catalog: Any) -> str:
    """What a schema catalog validates with: its settings (Kubernetes version, CRD schema folders...) and the
    files in those folders; a setting whose repr is not stable (an object address) only costs misses."""
    settings = getattr(catalog, "settings", None)
    parts = [repr(settings)]
    for folder in getattr(settings, "crd_schema_dirs", ()) or ():
        parts += _folder_state(Path(folder))
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


# A row's ``sum`` is ``<checksum of the results>:<checksum of the YAML>`` (``-`` for none): each part is checked when
# that part is read.

def _results_checksum(checks: str) -> str:
    return hashlib.blake2b(checks.encode(), digest_size=16).hexdigest()


def _yaml_checksum(yaml: bytes | None) -> str:
    return hashlib.blake2b(yaml, digest_size=16).hexdigest() if yaml is not None else "-"


def cache_folder() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mlkube"


def fingerprint() -> str:
    """mlkube's code and data (every file's path, size and mtime), Python, and the packages results depend on."""
    import importlib.metadata
    import importlib.util

    import jsonschema_rs
    import pydantic
    import yaml

    # kubernetes_validate's version and folder without importing it (and jsonschema): synth reads only its schema
    # files (validation/schemas.py), and the import cost a one-app synth about 20 ms of start-up (issue 22).
    schemas_package = Path(importlib.util.find_spec("kubernetes_validate").origin or "").parent  # type: ignore[union-attr]
    package = Path(__file__).resolve().parent.parent
    parts = [FORMAT, sys.version, getattr(yaml, "__version__", ""), importlib.metadata.version("kubernetes-validate"),
             pydantic.VERSION, getattr(jsonschema_rs, "__version__", "") or str(Path(jsonschema_rs.__file__).stat().st_mtime_ns),
             str(schemas_package)]
    for parent, folders, files in os.walk(package):
        folders[:] = sorted(name for name in folders if name != "__pycache__")
        for name in sorted(files):
            stat = os.stat(os.path.join(parent, name))
            parts.append(f"{os.path.relpath(os.path.join(parent, name), package)}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def _settings_of(value: Any) -> Any:
    """A platform attribute as JSON-ready data, for the environment context (None when it is not a setting)."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return _folder_state(value)
    if isinstance(value, (list, tuple)) and all(isinstance(item, (BaseModel, str, Path)) for item in value):
        return [_settings_of(item) for item in value]
    return None


def _folder_state(path: Path) -> list[str]:
    """Every file below ``path`` with size and mtime (schemas a platform is given: a changed file is a new context)."""
    if path.is_file():
        stat = path.stat()
        return [f"{path}:{stat.st_size}:{stat.st_mtime_ns}"]
    found = []
    for parent, folders, files in os.walk(path):
        folders.sort()
        for name in sorted(files):
            stat = os.stat(os.path.join(parent, name))
            found.append(f"{os.path.join(parent, name)}:{stat.st_size}:{stat.st_mtime_ns}")
    return found


def environment_contexts(platform: Platform, extra: Mapping[str, Any] | None = None) -> dict[str, bytes]:
    """Per environment: the settings every per-object result may depend on besides the object itself."""
    common = {name: _settings_of(value) for name, value in sorted(vars(platform).items())
              if not name.startswith("_") and name not in ("environments", "apps", "builders", "problems", "used_overrides", "out_dir")}
    contexts = {}
    for environment in platform.environments:
        data = {"environment": environment.model_dump(mode="json"), "platform": common, "extra": (extra or {}).get(environment.name)}
        contexts[environment.name] = json.dumps(data, sort_keys=True, default=repr).encode()
    return contexts


class ObjectStore:
    """Per-object results by input digest: those found in the cache file, and those computed in this run."""

    def __init__(self, database: Path | None, contexts: Mapping[str, bytes]) -> None:
        self.database = database
        #: Per environment, the BLAKE2b key that puts its context into every digest.
        self.keys = {name: hashlib.blake2b(context, digest_size=32).digest() for name, context in contexts.items()}
        self.digests: dict[int, str] = {}
        self.entries: dict[str, Entry] = {}
        #: Entries computed in this run (saved after a successful write).
        self.computed: dict[str, Entry] = {}
        self.files: dict[str, tuple[str, str]] = {}
        #: Keys of checks over several objects that found nothing (incremental/connectivity.py, namespaces.py): in the last
        #: run, and in this one.
        self.clean_before: set[bytes] = set()
        self.clean_now: set[bytes] = set()
        #: id(schema catalog) -> catalog_key, computed once per synth.
        self.catalog_keys: dict[int, str] = {}
        self.notes: list[str] = []
        self._stamp = ""
        #: The YAML of the entries computed in this run (``keep_yaml``).
        self._spill = _Spill()
        self._reader: sqlite3.Connection | None = None
        #: Ends the per-object work started in parallel (steps.prepare), before a step reads its results.
        self.pending: Callable[[], None] | None = None

    # -- digests ---------------------------------------------------------------------------------

    def digest(self, manifest: Manifest) -> str | None:
        return self.digests.get(id(manifest.obj))

    def prepare(self, manifests: Sequence[Manifest]) -> None:
        """Digest every object's input (after the transforms) and read the results the cache holds for them."""
        for manifest in manifests:
            key = self.keys.get(manifest.environment)
            if key is None:
                continue
            try:
                payload = serialized((manifest.where, manifest.app, manifest.obj))
            except Exception:
                continue
            self.digests[id(manifest.obj)] = hashlib.blake2b(payload, digest_size=20, key=key).hexdigest()
        if self.database is not None:
            self.entries.update(self._read(set(self.digests.values())))

    def entry(self, manifest: Manifest) -> Entry | None:
        digest = self.digests.get(id(manifest.obj))
        if digest is None:
            return None
        return self.computed.get(digest) or self.entries.get(digest)

    def computing(self, manifest: Manifest) -> Entry | None:
        """The entry to fill for this object in this run (None when the object has no digest)."""
        digest = self.digests.get(id(manifest.obj))
        if digest is None:
            return None
        found = self.computed.get(digest)
        if found is None:
            known = self.entries.get(digest)
            found = self.computed[digest] = Entry(None, known.schema_clean, known.apiserver_clean, known.policy_rereads,
                                                  dict(known.policy_hits), models=known.models) if known is not None else Entry()
            stored = self._stored_yaml(digest) if known is not None and known.has_yaml else None
            if stored is not None:
                self._spill.put(digest, stored)  # the computed entries' YAML is in the spill file
                found.has_yaml = True
        return found

    # -- rendered YAML, kept out of memory ---------------------------------------------------------

    def keep_yaml(self, manifest: Manifest, data: bytes) -> None:
        """Keep the YAML rendered for this object in this run (in the spill file, for the cache file and reuse)."""
        digest = self.digests.get(id(manifest.obj))
        entry = self.computing(manifest)
        if digest is not None and entry is not None:
            self._spill.put(digest, data)
            entry.has_yaml = True

    def received(self, result: tuple[str, Entry]) -> None:
        """An entry computed by a worker (or the first slice here): its YAML goes to the spill file at once."""
        digest, entry = result
        if entry.yaml is not None:
            self._spill.put(digest, entry.yaml)
            entry.yaml, entry.has_yaml = None, True
        earlier = self.computed.get(digest)
        if earlier is not None and entry.schema_clean is None:
            entry.schema_clean = earlier.schema_clean  # found by the schema check while the workers ran
        self.computed[digest] = entry

    def yaml_of(self, manifest: Manifest) -> bytes | None:
        """The YAML rendered for this object's input: in this run (the spill file), or in an earlier one (the cache file)."""
        digest = self.digests.get(id(manifest.obj))
        if digest is None:
            return None
        computed = self.computed.get(digest)
        if computed is not None:
            return self._spill.get(digest) if computed.has_yaml else None
        known = self.entries.get(digest)
        return self._stored_yaml(digest) if known is not None and known.has_yaml else None

    def _stored_yaml(self, digest: str) -> bytes | None:
        """A row's YAML, read again from the cache file (its checksum checked again); None when it is not there."""
        if self.database is None:
            return None
        try:
            if self._reader is None:
                self._reader = self._connect()
            # fetchall: the statement runs to its end, so no read lock is left on the file (the save's commit needs none)
            rows = self._reader.execute("SELECT yaml, sum FROM objects WHERE key = ?", (digest,)).fetchall()
        except (sqlite3.Error, OSError, ValueError):
            return None  # rendered again: the YAML is a function of the input
        row = rows[0] if rows else None
        if row is None or not isinstance(row[0], bytes) or not isinstance(row[1], str) or row[1].partition(":")[2] != _yaml_checksum(row[0]):
            return None
        return row[0]

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- the cache file --------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        assert self.database is not None
        connection = sqlite3.connect(self.database, timeout=10, isolation_level=None)
        connection.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        connection.execute("CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, yaml BLOB, checks TEXT, sum TEXT, used TEXT)")
        connection.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, key TEXT, stat TEXT)")
        connection.execute("CREATE TABLE IF NOT EXISTS clean (key BLOB PRIMARY KEY)")
        return connection

    def _unreadable(self, error: Exception) -> None:
        """A cache file SQLite cannot read: note it, set it aside, and go on without it (the output is the same)."""
        self.notes.append(f"the synth cache {self.database} could not be read ({error}); it is started again")
        try:
            assert self.database is not None
            self.database.unlink(missing_ok=True)
        except OSError:
            self.database = None

    def _has_database(self) -> bool:
        return self.database is not None

    def open(self, stamp: str) -> None:
        """Use the cache file only if it was written for this ``stamp`` (mlkube's fingerprint); else empty it."""
        self._stamp = stamp
        if self.database is None:
            return
        try:
            self.database.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self.notes.append(f"the synth cache folder {self.database.parent} cannot be created ({error.strerror or error}); "
                              f"synth runs without the cache (set {CACHE_ENV} to a writable folder)")
            self.database = None
            return
        for attempt in range(2):  # a file SQLite cannot read is started again, once
            try:
                with self._connection() as connection:
                    row = connection.execute("SELECT value FROM meta WHERE name = 'stamp'").fetchone()
                    if row is None or row[0] != stamp:
                        connection.execute("DELETE FROM objects")
                        connection.execute("DELETE FROM files")
                        connection.execute("DELETE FROM clean")
                        connection.execute("INSERT OR REPLACE INTO meta VALUES ('stamp', ?)", (stamp,))
                    self.files = {path: (key, stat) for path, key, stat in connection.execute("SELECT path, key, stat FROM files")}
                    self.clean_before = {key for (key,) in connection.execute("SELECT key FROM clean") if isinstance(key, bytes)}
                return
            except (sqlite3.Error, OSError, ValueError) as error:
                self.files = {}
                if attempt == 0:
                    self._unreadable(error)
                if not self._has_database():  # _unreadable drops a file it cannot set aside
                    return
        self.database = None  # unusable twice: this synth goes without the cache

    def _connection(self) -> Any:
        from contextlib import closing

        return closing(self._connect())

    def _read(self, digests: set[str]) -> dict[str, Entry]:
        """The entries of ``digests`` the cache file holds, checksums checked (their YAML is read again when needed)."""
        found: dict[str, Entry] = {}
        if self.database is None or not digests:
            return found
        parsed: dict[str, _Results] = {}
        keys = sorted(digests)
        try:
            with self._connection() as connection:
                for start in range(0, len(keys), 500):
                    chunk = keys[start:start + 500]
                    rows = connection.execute(f"SELECT key, yaml IS NOT NULL, checks, sum FROM objects WHERE key IN ({','.join('?' * len(chunk))})",
                                              chunk)
                    for key, has_yaml, checks, checksums in rows:
                        try:
                            results, _, yaml_sum = checksums.partition(":")
                            if not isinstance(checks, str) or _results_checksum(checks) != results or (yaml_sum == "-") == bool(has_yaml):
                                continue  # a damaged row: computed again
                            found[key] = parse_row(checks, bool(has_yaml), parsed)
                        except (ValueError, TypeError, AttributeError):
                            continue
        except (sqlite3.Error, OSError, ValueError) as error:
            self._unreadable(error)
            return {}
        return found

    def unchanged_files(self, out_dir: Path, paths: Mapping[str, Manifest]) -> set[str]:
        """Files of ``out_dir`` that already hold what this run writes: written by a run for the same input
        (the recorded digest), and not touched since (same inode, size, mtime and ctime)."""
        unchanged = set()
        folder = os.fspath(out_dir)
        for relative, manifest in paths.items():
            recorded = self.files.get(relative)
            digest = self.digest(manifest)
            if recorded is None or digest is None or recorded[0] != digest:
                continue
            try:
                stat = os.lstat(os.path.join(folder, relative))
            except OSError:
                continue
            if recorded[1] == _stat_text(stat):
                unchanged.add(relative)
        return unchanged

    def save(self, out_dir: Path, paths: Mapping[str, Manifest]) -> None:
        """After a successful write: keep this run's results, drop the rest, record the files as written."""
        self._close_reader()  # its read lock would block the commit
        try:
            self._save(out_dir, paths)
        finally:
            self._spill.close()

    def _save(self, out_dir: Path, paths: Mapping[str, Manifest]) -> None:
        if self.database is None:
            return
        used = set(self.digests.values())
        folder = os.fspath(out_dir)

        # Most entries have the same results (clean, the same rules to rerun, no model): their text and its checksum are
        # made once each.
        texts: dict[Any, tuple[str, str]] = {}

        def results_of(entry: Entry) -> tuple[str, str]:
            key = None if entry.policy_hits else (entry.schema_clean, entry.apiserver_clean, entry.policy_rereads, entry.models)
            found = texts.get(key) if key is not None else None
            if found is None:
                checks = entry.checks_json()
                found = (checks, _results_checksum(checks))
                if key is not None:
                    texts[key] = found
            return found

        def rows() -> Iterator[tuple[str, bytes | None, str, str]]:  # generated as SQLite takes them: no list of every row
            for digest, entry in self.computed.items():
                checks, results = results_of(entry)
                yaml = self._spill.get(digest) if entry.has_yaml else None
                yield digest, yaml, checks, f"{results}:{_yaml_checksum(yaml)}"

        def files() -> Iterator[tuple[str, str, str]]:
            for relative, manifest in paths.items():
                digest = self.digest(manifest)
                try:
                    stat = os.lstat(os.path.join(folder, relative))
                except OSError:
                    continue
                if digest is not None:
                    yield relative, digest, _stat_text(stat)

        try:
            with self._connection() as connection:
                connection.execute("BEGIN")
                connection.executemany("INSERT OR REPLACE INTO objects (key, yaml, checks, sum) VALUES (?, ?, ?, ?)", rows())
                stale = [key for (key,) in connection.execute("SELECT key FROM objects") if key not in used]
                connection.executemany("DELETE FROM objects WHERE key = ?", [(key,) for key in stale])
                connection.execute("DELETE FROM files")
                connection.executemany("INSERT INTO files VALUES (?, ?, ?)", files())
                connection.execute("DELETE FROM clean")
                connection.executemany("INSERT INTO clean VALUES (?)", [(key,) for key in sorted(self.clean_now)])
                connection.execute("COMMIT")
        except (sqlite3.Error, OSError, ValueError) as error:
            self._unreadable(error)
        _remove_stale(self.database.parent if self.database is not None else None)


def _stat_text(stat: os.stat_result) -> str:
    return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"


def _remove_stale(folder: Path | None) -> None:
    """Cache files of output folders not synthesized for a month (each output folder ever used has one)."""
    if folder is None:
        return
    now = time.time()
    try:
        for path in folder.glob("synth-*.sqlite3"):
            if now - path.stat().st_mtime > _STALE_SECONDS:
                path.unlink(missing_ok=True)
    except OSError:
        pass


def database_for(out_dir: Path) -> Path:
    """The cache file of one output folder (the config repo's dist/, by its absolute path)."""
    name = hashlib.blake2b(os.fsencode(os.path.abspath(out_dir)), digest_size=10).hexdigest()
    return cache_folder() / f"synth-{name}.sqlite3"


def open_store(out_dir: Path, platform: Platform, *, use_cache: bool, extra: Mapping[str, Any] | None = None) -> ObjectStore:
    """The store of one synth: backed by the cache file of ``out_dir`` when ``use_cache``, else in memory only."""
    store = ObjectStore(database_for(out_dir) if use_cache else None, environment_contexts(platform, extra))
    store.open(fingerprint() if use_cache else "")
    return store
