"""Which workload kinds a blueprint may declare: ``kind -> (construct class, spec class)``.

A blueprint workload ``{kind: InferenceService, image: ...}`` is validated by the spec class and
built by ``construct(app, id, spec)``, exactly like the Python construct. Adding a kind is one line.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ..core.spec import Spec

__all__ = ["WorkloadKind", "workload_kinds", "register_kind", "OPTIONAL_KINDS"]


@dataclass(frozen=True)
class WorkloadKind:
    name: str
    construct: type[Any]
    spec: type[Spec]


_REGISTERED: dict[str, WorkloadKind] = {}

#: Kinds built into mlkube: (kind, module, construct class, spec class).
BUILT_IN_KINDS = [
    ("InferenceService", "mlkube.core.inference_service", "InferenceService", "InferenceServiceSpec"),
]

#: Kinds whose constructs may not be in this version of mlkube (the training and storage constructs):
#: looked up in the ``mlkube`` package by name and included when present. One line each.
OPTIONAL_KINDS = [
    ("GpuTrainingJob", "mlkube", "GpuTrainingJob", "GpuTrainingJobSpec"),
    ("CheckpointVolume", "mlkube", "CheckpointVolume", "CheckpointVolumeSpec"),
    ("BatchJob", "mlkube", "BatchJob", "BatchJobSpec"),
    ("ScheduledJob", "mlkube", "ScheduledJob", "ScheduledJobSpec"),
]


def register_kind(name: str, construct: type[Any], spec: type[Spec]) -> None:
    """Let blueprints declare ``kind: <name>`` (for constructs defined outside mlkube)."""
    _REGISTERED[name] = WorkloadKind(name, construct, spec)


def _lookup(module: str, construct: str, spec: str) -> tuple[type[Any], type[Spec]] | None:
    loaded = importlib.import_module(module)
    construct_class, spec_class = getattr(loaded, construct, None), getattr(loaded, spec, None)
    if not isinstance(construct_class, type) or not (isinstance(spec_class, type) and issubclass(spec_class, Spec)):
        return None
    return construct_class, spec_class


def workload_kinds() -> dict[str, WorkloadKind]:
    """Every kind a blueprint may declare, sorted by name (so generated schemas are stable)."""
    kinds: dict[str, WorkloadKind] = {}
    for name, module, construct, spec in BUILT_IN_KINDS + OPTIONAL_KINDS:
        found = _lookup(module, construct, spec)
        if found is not None:
            kinds[name] = WorkloadKind(name, *found)
    kinds.update(_REGISTERED)
    return dict(sorted(kinds.items()))
