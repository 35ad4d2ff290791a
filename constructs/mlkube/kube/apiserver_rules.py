"""Rules the Kubernetes API server applies to names, keys, paths and integers, as plain functions.

Specs use them (so a blueprint error points at its own line) and so does the synth check over every
rendered object (validation/apiserver.py), so objects added with plain cdk8s are held to them too.
Each rule cites the apimachinery / kubernetes validation code it mirrors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["INT32_MAX", "INT64_MAX", "CRONJOB_NAME_MAX", "config_key_problem", "env_name_problem", "sub_path_problem",
           "EnvName", "ConfigKey", "LocalPath"]

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
#: pkg/apis/batch/validation/validation.go (ValidateCronJobCreate): a CronJob's name is at most 52 characters,
#: because its Jobs are named '<name>-<11 characters of schedule time>' and must stay within 63.
CRONJOB_NAME_MAX = 52

# k8s.io/apimachinery/pkg/util/validation/validation.go: configMapKeyFmt = `[-._a-zA-Z0-9]+` (IsConfigMapKey,
# also used for Secret keys), at most 253 characters, and hasChDirPrefix: not '.', '..' nor starting with '..'.
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
# Same file: envVarNameFmt = `[-._a-zA-Z][-._a-zA-Z0-9]*` (IsEnvVarName). Kubernetes 1.32+ accepts any printable
# ASCII but '=' by default (RelaxedEnvironmentVariableValidation, GA in 1.34); mlkube keeps the strict rule,
# which every supported cluster version accepts and a shell can read.
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def _chdir_prefix(value: str) -> str | None:
    if value in (".", "..") or value.startswith(".."):
        return "must not be '.' or '..' nor start with '..'"
    return None


def config_key_problem(key: object) -> str | None:
    """Why ``key`` cannot be a ConfigMap or Secret key, or None."""
    if not isinstance(key, str):
        return f"a key must be a string (got {type(key).__name__})"
    if len(key) > 253:
        return f"key of {len(key)} characters is longer than 253"
    if not _CONFIG_KEY.fullmatch(key):
        return f"key {key!r} may contain only letters, digits, '-', '_' and '.' (a file name in the mounted folder)"
    problem = _chdir_prefix(key)
    return f"key {key!r} {problem}" if problem else None


def env_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be an environment variable name, or None."""
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        return (f"environment variable name {name!r} must start with a letter, '_', '-' or '.', followed by letters, "
                "digits, '_', '-' or '.' (e.g. 'LOG_LEVEL')")
    problem = _chdir_prefix(name)
    return f"environment variable name {name!r} {problem}" if problem else None


def sub_path_problem(path: object) -> str | None:
    """Why ``path`` cannot be a path inside a volume (volumeMounts[].subPath), or None.

    pkg/apis/core/validation/validation.go, validateLocalDescendingPath: not absolute, and no '..' element
    (split on '/' and, for Windows nodes, '\\').
    """
    if not isinstance(path, str):
        return f"a path must be a string (got {type(path).__name__})"
    if path.startswith("/"):
        return f"path {path!r} must be relative to the volume, not absolute"
    if ".." in re.split(r"[/\\]", path):
        return f"path {path!r} must not contain '..': it would reach outside the volume"
    return None


def _validator(rule: Callable[[str], str | None]) -> AfterValidator:
    def check(value: str) -> str:
        problem = rule(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


#: An environment variable name the API server accepts (as a dict key: ``dict[EnvName, str]``).
EnvName = Annotated[str, _validator(env_name_problem)]
#: A ConfigMap or Secret key.
ConfigKey = Annotated[str, _validator(config_key_problem)]
#: A relative path that stays inside its volume.
LocalPath = Annotated[str, _validator(sub_path_problem)]
