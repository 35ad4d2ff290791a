"""Image values: registry references, images to build, and the union every workload accepts."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from mlkube.core.image import BuildImage, Image, ImageSpec, RegistryImage
from mlkube.errors import MlkubeError

ADAPTER = TypeAdapter(ImageSpec)


def test_a_string_is_a_registry_image() -> None:
    assert ADAPTER.validate_python("ghcr.io/acme/fraud:1.4.2") == RegistryImage(reference="ghcr.io/acme/fraud:1.4.2")


def test_a_build_dict_is_a_build_image() -> None:
    image = ADAPTER.validate_python({"source": "build", "context": "models/fraud", "purpose": "training"})
    assert isinstance(image, BuildImage)
    assert (image.name, image.purpose, image.requirements) == ("fraud", "training", "requirements.txt")


def test_build_names_the_image_after_its_context_folder() -> None:
    assert Image.build("models/Fraud_Scoring").name == "fraud-scoring"
    assert Image.build("models/fraud", name="scorer").name == "scorer"


def test_build_uses_the_lock_file_instead_of_requirements() -> None:
    image = Image.build("models/fraud", lock_file="requirements.lock")
    assert image.dependency_file == "requirements.lock"


def test_fails_when_requirements_and_lock_file_are_both_given() -> None:
    with pytest.raises(MlkubeError, match="either `requirements` or `lock_file`"):
        Image.build("models/fraud", requirements="r.txt", lock_file="r.lock")


@pytest.mark.parametrize(("fields", "message"), [
    ({"purpose": "serve"}, "Input should be 'serving', 'training' or 'batch'"),
    ({"base_digest": "sha256:abc"}, "is not a digest"),
    ({"system_packages": ["curl"]}, "must be pinned as 'name=version'"),
    ({"platforms": ["amd64"]}, "is not a platform"),
    ({"requirements": "../secrets.txt"}, "must be a relative path"),
    ({"env": {"BAD-NAME": "x"}}, "names are letters, digits and '_'"),
    ({"workdir": "/srv"}, "unknown field 'workdir'"),
])
def test_fails_when_a_build_field_is_invalid(fields: dict[str, object], message: str) -> None:
    with pytest.raises(MlkubeError) as caught:
        Image.build("models/fraud", **fields)
    assert message in str(caught.value)
    assert "Image.build('models/fraud')" in str(caught.value)


def test_fails_when_the_context_is_absolute() -> None:
    with pytest.raises(ValidationError, match="must be a relative path"):
        BuildImage(context="/srv/models/fraud")


def test_fails_when_a_source_is_unknown() -> None:
    with pytest.raises(ValidationError, match=r"union_tag_invalid|does not match any of the expected tags"):
        ADAPTER.validate_python({"source": "git", "context": "x"})
