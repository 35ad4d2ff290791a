"""Built images: Dockerfiles, .dockerignore files, content tags and the images manifest."""

from ..core.image_reference import Reference, parse_reference
from .catalog import BuiltImage, BuiltImages, ImageUser
from .content_tag import content_tag
from .dockerfile import IMAGE_USER_ID, render_dockerfile
from .dockerignore import IgnoreMatcher, render_dockerignore
from .manifest import write_image_files

__all__ = ["BuiltImage", "BuiltImages", "IMAGE_USER_ID", "IgnoreMatcher", "ImageUser", "Reference", "content_tag",
           "parse_reference", "render_dockerfile", "render_dockerignore", "write_image_files"]
