"""Helpers to check custom resources against mlkube's carried schemas and the upstream ones in ../shared.

Kept in a module with a unique name (not conftest) so tests elsewhere can import it too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from click.testing import CliRunner

from mlkube.cli import main
from mlkube.validation.schemas import BUILTIN_CRD_SCHEMAS

__all__ = ["EXAMPLES", "CARRIED", "example", "upstream_validators"]

#: Realistic custom resources, one per carried schema, at "{group}/{kind}_{version}.yaml".
EXAMPLES = Path(__file__).parent / "crd_examples"
#: "{group}/{kind}_{version}" of every carried schema.
CARRIED = sorted(str(path.relative_to(BUILTIN_CRD_SCHEMAS).with_suffix("")) for path in BUILTIN_CRD_SCHEMAS.glob("*/*.json"))


def example(name: str) -> dict[str, Any]:
    """The example custom resource ``{group}/{kind}_{version}``."""
    obj: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return obj


def upstream_validators(shared_dir: Path, work_dir: Path) -> dict[str, Any]:
    """``{group}/{kind}_{version}`` -> compiled upstream validator.

    The CRD catalog's schemas in ../shared/crd-schemas, plus JobSet as ``mlkube schemas import``
    makes it from ../shared/crds (the catalog has no JobSet schema).
    """
    validators: dict[str, Any] = {}
    catalog = shared_dir / "crd-schemas"
    for path in sorted(catalog.rglob("*.json")):
        schema = json.loads(path.read_text())
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validators[str(path.relative_to(catalog).with_suffix(""))] = cls(schema)
    crd = shared_dir / "crds" / "jobset.x-k8s.io_jobsets.yaml"
    if crd.is_file():
        result = CliRunner().invoke(main, ["schemas", "import", str(crd), "--out", str(work_dir)])
        assert result.exit_code == 0, result.output
        schema = json.loads((work_dir / "jobset.x-k8s.io" / "jobset_v1alpha2.json").read_text())
        validators["jobset.x-k8s.io/jobset_v1alpha2"] = jsonschema.Draft202012Validator(schema)
    return validators
