"""Chart pins under the promotion rules of images: what the lock allows (see mlkube.chart.pins for the why).

A gated environment's chart may be recorded only while its lock holds exactly what its last promotion copied,
and its entry records that promotion's fingerprint; ``mlkube promote`` drops the target's pins of an earlier one.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import Problem
from .lock import ChartLockEntry, Lock, fingerprint

__all__ = ["current_promotion", "entry_for_environment", "stale_chart_pins", "gated_refusals"]


def current_promotion(lock: Lock, environment: str) -> str | None:
    """The fingerprint of the promotion the gated environment holds now, or None when it holds something else."""
    promotion = lock.promotions.get(environment)
    if promotion is None:
        return None
    held = fingerprint(lock.environments.get(environment, {}), lock.models.get(environment))
    return promotion.fingerprint if held == promotion.fingerprint else None


def gated_refusals(lock: Lock, environments: list[str], where: str) -> list[Problem]:
    """Why charts cannot be recorded now for these environments (gated ones that do not hold their promotion)."""
    problems = []
    for environment in environments:
        source = lock.sources.get(environment)
        if source is not None and current_promotion(lock, environment) is None:
            problems.append(Problem(where, f"charts.{environment}", f"{environment} is a gated environment (promoted from {source}) "
                                    "and its lock does not hold a promotion: its charts would render images that did not come "
                                    "through `mlkube promote`", f"mlkube promote {source} {environment}, then export and push its charts"))
    return problems


def entry_for_environment(lock: Lock, environment: str, entry: ChartLockEntry) -> ChartLockEntry:
    """The entry to record: in a gated environment, bound to the promotion it renders (call gated_refusals first)."""
    if environment not in lock.sources:
        return entry
    return replace(entry, promotion=current_promotion(lock, environment) or "")


def stale_chart_pins(lock: Lock, environment: str, promotion: str) -> list[str]:
    """Apps whose chart pin in ``environment`` does not render the promotion ``promotion`` (promote drops them)."""
    return sorted(app for app, entry in lock.charts.get(environment, {}).items() if entry.promotion != promotion)
