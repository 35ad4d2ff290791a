"""The images a platform builds (``platform.built_images``): specs, generated files, tags, users."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.image import BuildImage
from ..errors import MlkubeError, Problem
from ..pinning.lock import load_lock
from .content_tag import content_tag
from .dockerfile import base_of, render_dockerfile
from .dockerignore import render_dockerignore
from .validate import check_build_image

if TYPE_CHECKING:
    from ..core.platform import MlApp

__all__ = ["BuiltImages", "BuiltImage", "ImageUser"]

#: The tag of an image whose context could not be read; synth fails before anything refers to it.
INVALID_TAG = "invalid"


@dataclass(frozen=True, order=True)
class ImageUser:
    """A container that runs a built image: construct path and container name, per environment."""

    environment: str
    path: str
    container: str


@dataclass
class BuiltImage:
    spec: BuildImage
    dockerfile: str
    dockerignore: str
    tag: str
    users: list[ImageUser] = field(default_factory=list)
    #: Full reference per environment (environments may use different registries).
    references: dict[str, str] = field(default_factory=dict)
    #: The spec as the blueprint gave it (``spec`` may carry a base digest from the lock).
    declared: BuildImage | None = None


class BuiltImages:
    """Every image built for the platform, keyed by name; filled by ``resolve_image``."""

    def __init__(self) -> None:
        self.images: dict[str, BuiltImage] = {}
        #: Locked base digests (the lock's "bases"), read once per synth on first use.
        self._bases: dict[str, str] | None = None

    def use(self, spec: BuildImage, app: MlApp, used_by: str, container: str) -> str:
        """Record that ``container`` of ``used_by`` runs ``spec``; the reference its image field gets."""
        entry = self.images.get(spec.name)
        if entry is None:
            built = self._with_locked_base(spec, app, used_by)
            entry = self.images[spec.name] = self._prepare(built, app, used_by, _output_inside(spec, app.platform.out_dir))
            entry.declared = spec
        elif entry.declared != spec:
            first = entry.users[0].path if entry.users else "another construct"
            app.report([Problem(used_by, "image.name", f"image {spec.name!r} is already defined by {first} with a different spec",
                                "give each image its own name, or use the same Image value everywhere")])
        reference = f"{app.environment.registry}/{spec.name}:{entry.tag}"
        entry.users.append(ImageUser(app.environment.name, used_by, container))
        entry.references[app.environment.name] = reference
        return reference

    def _with_locked_base(self, spec: BuildImage, app: MlApp, used_by: str) -> BuildImage:
        """The spec with its base pinned from the lock when the blueprint gives no digest (``mlkube images pin-bases``)."""
        name, digest = base_of(spec)
        if digest is not None:
            return spec
        if self._bases is None:
            try:
                self._bases = load_lock(app.platform.out_dir).bases
            except MlkubeError as error:
                app.report(error.problems)
                self._bases = {}
        locked = self._bases.get(name)
        return spec.model_copy(update={"base_digest": locked}) if locked else spec

    @staticmethod
    def _prepare(spec: BuildImage, app: MlApp, used_by: str, output: str | None) -> BuiltImage:
        # Checked once per image: the problems are the same wherever it is used.
        dockerfile, dockerignore = render_dockerfile(spec), render_dockerignore(spec, output)
        problems = check_build_image(spec, dockerignore, used_by)
        app.report(problems)
        tag = INVALID_TAG
        if not problems:
            try:
                tag = content_tag(Path(spec.context), dockerfile, dockerignore, spec.platforms)
            except OSError as error:
                app.report([Problem(used_by, "image.context", f"cannot read {error.filename}: {error.strerror}",
                                    "make the build context readable")])
        return BuiltImage(spec, dockerfile, dockerignore, tag)

    def __len__(self) -> int:
        return len(self.images)


def _output_inside(spec: BuildImage, out_dir: Path) -> str | None:
    """The output folder relative to the build context when it lies inside it (context '.')."""
    try:
        return Path(out_dir).resolve().relative_to(Path(spec.context).resolve()).as_posix()
    except ValueError:
        return None
