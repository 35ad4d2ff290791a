"""Run the ``run:`` steps of a generated GitHub workflow, in order, as the runner would.

Steps that ``uses:`` an action are the caller's to stand in for (build and push, upload, open a pull
request); ``${{ ... }}`` expressions are replaced by the values the caller gives, and an expression
it did not give fails the test (a new expression in a workflow must be provided deliberately). A
step's ``env:`` is passed as environment, as GitHub does. Each script runs with the runner's shell
for ``run:`` steps: ``bash --noprofile --norc -eo pipefail``.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

__all__ = ["Workflow", "StepRun"]

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class StepRun:
    name: str
    script: str
    stdout: str
    outputs: dict[str, str] = field(default_factory=dict)


class Workflow:
    """One generated workflow file, read with a YAML 1.2 loader."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = YAML(typ="safe", pure=True).load(path.read_text())

    def steps(self, job: str) -> list[dict[str, Any]]:
        return list(self.data["jobs"][job]["steps"])

    def run_steps(self, job: str, *, cwd: Path, values: dict[str, str], conditions: dict[str, bool] | None = None,
                  env: dict[str, str] | None = None, temp: Path) -> list[StepRun]:
        """Every ``run:`` step of ``job`` whose ``if:`` (looked up in ``conditions``) holds; fails on the first failing step."""
        runs = []
        for index, step in enumerate(self.steps(job)):
            if "run" not in step:
                continue
            condition = step.get("if")
            if condition is not None:
                assert condition in (conditions or {}), f"{self.path.name} {job}[{index}]: no value given for if: {condition}"
                if not (conditions or {})[condition]:
                    continue
            runs.append(self._run(job, index, step, cwd, values, env or {}, temp))
        return runs

    def _substitute(self, text: str, values: dict[str, str], where: str) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1)
            assert expression in values, f"{where}: the test gives no value for ${{{{ {expression} }}}}"
            return values[expression]
        return _EXPRESSION.sub(value, str(text))

    def _run(self, job: str, index: int, step: dict[str, Any], cwd: Path, values: dict[str, str], env: dict[str, str],
             temp: Path) -> StepRun:
        where = f"{self.path.name} {job}[{index}] {step.get('name', '')}".strip()
        script = self._substitute(step["run"], values, where)
        output_file, summary = temp / "github_output", temp / "step_summary"
        output_file.write_text("")
        environment = {**os.environ, **env, "RUNNER_TEMP": str(temp), "GITHUB_OUTPUT": str(output_file),
                       "GITHUB_STEP_SUMMARY": str(summary),
                       **{key: self._substitute(value, values, where) for key, value in (step.get("env") or {}).items()}}
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd, env=environment,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{where} failed ({result.returncode}):\n$ {script}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        return StepRun(str(step.get("name", "")), script, result.stdout, outputs)
