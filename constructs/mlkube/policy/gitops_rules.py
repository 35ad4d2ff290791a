"""Rules about how objects behave under Argo CD's automated sync (they fire only where the environment syncs automatically)."""

from __future__ import annotations

from collections.abc import Iterator

from .model import Hit, Target, rule

__all__: list[str] = []

#: Kinds whose finished runs Kubernetes deletes after spec.ttlSecondsAfterFinished (JobSet has the same field).
_TTL_KINDS = ("Job", "JobSet")


@rule("MLK-GIT-001", "error", "A Job in Git must not delete itself (ttlSecondsAfterFinished) under automated sync",
      rationale="The TTL controller deletes the finished Job (https://kubernetes.io/docs/concepts/workloads/controllers/ttlafterfinished/); "
                "Argo CD then sees it missing from the cluster and automated sync (self-heal) creates it again, so the job runs again, "
                "and again after every TTL (https://argo-cd.readthedocs.io/en/stable/user-guide/auto_sync/).",
      fix="leave ttl_seconds_after_finished unset (a ScheduledJob's runs may keep it: they are not in Git), sync this "
          "environment manually, or waive MLK-GIT-001 with the reason the repeated runs are wanted", kinds=_TTL_KINDS)
def ttl_under_automated_sync(target: Target) -> Iterator[Hit]:
    if not target.settings.automated_sync or target.kind not in _TTL_KINDS:
        return
    ttl = (target.obj.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is not None:
        yield Hit("spec.ttlSecondsAfterFinished", f"{target.kind} deletes itself {ttl}s after it finishes, and automated sync "
                  "re-creates it: it runs again")
