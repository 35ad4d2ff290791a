"""A platform validates each distinct spec input once (core/spec.py ``parse_spec``, ``Platform.parsed_specs``).

An app is built once per environment, mostly from the same arguments: the same input of plain data gives the same
frozen spec object; an override, a different value or a value of another type (True for 1) is validated on its own;
an input that is not plain data (a spec object) is validated every time; an error is reported in every environment.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlkube import Environment, InferenceService, MlApp, Platform
from mlkube.core.inference_service import InferenceServiceSpec
from mlkube.core.resources import ResourcesSpec


def _servers(environments: list[Environment], **arguments: Any) -> dict[str, InferenceService]:
    platform = Platform(environments=environments)
    servers: dict[str, InferenceService] = {}

    @platform.app("scoring")
    def scoring(app: MlApp) -> None:
        servers[app.environment.name] = InferenceService(app, "server", image="ghcr.io/acme/scoring:1.0", **arguments)

    return servers


def test_the_same_input_in_every_environment_is_validated_once() -> None:
    servers = _servers([Environment(name="dev"), Environment(name="prod")], resources={"cpu": "2", "memory": "4Gi"}, replicas=2)
    assert servers["dev"].spec is servers["prod"].spec
    platform = servers["dev"].ml_app.platform
    assert len(platform.parsed_specs) == 1
    assert servers["prod"].spec.replicas == 2
    with pytest.raises(ValidationError):  # frozen: no construct can change what another shares
        servers["dev"].spec.replicas = 3  # type: ignore[misc]


def test_an_override_gives_its_environment_a_spec_of_its_own() -> None:
    prod = Environment(name="prod", overrides={"scoring/server": {"replicas": 5}})
    servers = _servers([Environment(name="dev"), prod], replicas=2)
    assert servers["dev"].spec is not servers["prod"].spec
    assert (servers["dev"].spec.replicas, servers["prod"].spec.replicas) == (2, 5)
    deployment = servers["prod"].deployment
    assert deployment["spec"]["replicas"] == 5


def test_values_equal_in_python_but_of_another_type_are_not_shared() -> None:
    platform = Platform(environments=[Environment(name="dev")])
    apps: list[MlApp] = []
    platform.app("one", apps.append)
    platform.app("two", apps.append)
    InferenceService(apps[0], "server", image="ghcr.io/acme/scoring:1.0", replicas=1)
    InferenceService(apps[1], "server", image="ghcr.io/acme/scoring:1.0", replicas=True)  # True == 1, refused for a number
    assert apps[0].problems == []
    assert [p.field for p in apps[1].problems] == ["replicas"]


def test_floats_are_keyed_exactly() -> None:
    """0.0 == -0.0 (and 1 == 1.0) in Python; a key must not make one input the other's spec."""
    from mlkube.core.spec import _plain_data_key

    assert _plain_data_key(ResourcesSpec, {"cpu": 0.0}) != _plain_data_key(ResourcesSpec, {"cpu": -0.0})
    assert _plain_data_key(ResourcesSpec, {"cpu": 1}) != _plain_data_key(ResourcesSpec, {"cpu": 1.0})
    assert _plain_data_key(ResourcesSpec, {"cpu": 0.5}) == _plain_data_key(ResourcesSpec, {"cpu": 0.5})
    assert _plain_data_key(ResourcesSpec, {"cpu": "1", "memory": "1Gi"}) != _plain_data_key(ResourcesSpec, {"memory": "1Gi", "cpu": "1"})


def test_an_input_that_is_not_plain_data_is_validated_each_time() -> None:
    resources = ResourcesSpec.model_validate({"cpu": "2", "memory": "4Gi"})
    servers = _servers([Environment(name="dev"), Environment(name="prod")], resources=resources)
    assert servers["dev"].spec is not servers["prod"].spec
    assert servers["dev"].spec == servers["prod"].spec
    assert servers["dev"].ml_app.platform.parsed_specs == {}


def test_an_error_is_reported_in_every_environment() -> None:
    servers = _servers([Environment(name="dev"), Environment(name="prod")], replicas=-1)
    for name in ("dev", "prod"):
        problems = servers[name].ml_app.problems
        assert [(p.where, p.field) for p in problems] == [(f"{name}/scoring/server", "replicas")]
    assert servers["dev"].ml_app.platform.parsed_specs == {}


def test_a_spec_object_given_whole_is_used_as_it_is() -> None:
    spec = InferenceServiceSpec.model_validate({"image": "ghcr.io/acme/scoring:1.0"})
    platform = Platform(environments=[Environment(name="dev")])
    found: list[InferenceService] = []
    platform.app("scoring", lambda app: found.append(InferenceService(app, "server", spec)))
    assert found[0].spec is spec
