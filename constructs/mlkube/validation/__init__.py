"""Validation of rendered objects: Kubernetes and CRD schemas, then cross-object checks."""

from .cross_object import check_cross_object
from .schemas import SchemaCatalog, ValidationSettings

__all__ = ["SchemaCatalog", "ValidationSettings", "check_cross_object"]
