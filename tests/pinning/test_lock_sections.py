"""Every command that rewrites the lock keeps the sections it does not own (charts, bases, models, promotions)."""

from __future__ import annotations

import json

from mlkube.pinning.lock import parse_lock
from mlkube.pinning.plan import plan_pins

DIGEST = "sha256:" + "a" * 64
LOCK = {
    "version": 1,
    "environments": {"dev": {"images": {"fraud": {"repository": "ghcr.io/acme/fraud", "tag": "1", "digest": DIGEST,
                                                  "source": {"contentTag": "1", "revision": "x"}}}}},
    "bases": {"python:3.11-slim-bookworm": DIGEST},
    "charts": {"dev": {"fraud-scoring": {"repository": "ghcr.io/acme/charts/fraud-scoring", "version": "0.1.0-dev.c1", "digest": DIGEST}}},
}


def test_a_copy_keeps_every_section_and_is_independent():
    lock = parse_lock(json.dumps(LOCK), "images.lock.json")
    copied = lock.copy()
    assert copied.to_bytes() == lock.to_bytes()
    copied.environments.clear()
    copied.charts["dev"].clear()
    assert lock.environments and lock.charts["dev"]


def test_pin_keeps_the_charts_and_bases_it_does_not_change():
    """Failing before: pin rebuilt the lock from four of its sections and dropped the pushed charts."""
    lock = parse_lock(json.dumps(LOCK), "images.lock.json")
    plan = plan_pins([], lock, lambda repository, tag: None, {}, "rev")
    assert json.loads(plan.lock.to_bytes())["charts"] == LOCK["charts"]
    assert json.loads(plan.lock.to_bytes())["bases"] == LOCK["bases"]
