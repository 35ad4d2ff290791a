"""Quantities in mlkube's own specs: the API server's grammar, no negatives, no traceback (issue 21)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlkube.core.checkpoint_volume import CheckpointVolumeSpec
from mlkube.core.resources import ResourcesSpec
from mlkube.kube.quantity import parse_quantity


@pytest.mark.parametrize(("field", "value", "message"), [
    ("cpu", "١", "does not start with an (ASCII) number"),
    ("cpu", "1e999999999", "is too large for a quantity"),
    ("memory", "-1Gi", "is negative"),
    ("memory", "aoeu", "is not a Kubernetes quantity"),
    ("memory", "1.1.M", "'.M' cannot follow the number"),
    ("memory", "0.1mi", "unknown suffix 'mi'"),
    ("memory", "", "cannot be empty"),
    ("shm_size", "-64Mi", "is negative"),
    ("cpu", 1e300, "is too large for a quantity"),
])
def test_spec_quantities_are_refused_with_a_clear_message(field, value, message):
    with pytest.raises(ValidationError) as caught:
        ResourcesSpec(**{field: value})
    assert message in str(caught.value)


def test_negative_volume_size_is_refused():
    with pytest.raises(ValidationError, match="is negative"):
        CheckpointVolumeSpec.model_validate({"size": "-10Gi"})


def test_numbers_become_strings():
    assert ResourcesSpec(cpu=0.5, memory="2Gi").cpu == "0.5"
    assert parse_quantity("512Mi") == 536870912


def test_model_cache_size_is_a_quantity():
    from mlkube.core.model import Model

    with pytest.raises(ValidationError, match="is negative"):
        Model.from_uri("hf://org/model", cache_size="-1Gi")
    with pytest.raises(ValidationError, match="not a Kubernetes quantity"):
        Model.from_uri("hf://org/model", cache_size="20 GB")
