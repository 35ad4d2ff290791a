"""Domain errors: every user error is a list of problems printed without a traceback."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Problem", "MlkubeError", "format_problems", "os_error_text", "EXIT_FINDINGS", "EXIT_USER_ERROR"]

#: Exit code when a check ran and found something (validate, check --pinned, diff --fail-on).
EXIT_FINDINGS = 1
#: Exit code when the input itself is wrong (bad spec, bad blueprint, bad flag): nothing was written.
EXIT_USER_ERROR = 2


@dataclass(frozen=True, order=True)
class Problem:
    """One thing that is wrong, and where.

    ``where`` is a construct path (``dev/fraud-scoring/server``) or a file location
    (``apps/team/mlkube.yaml:12:5``); ``field`` is the field path inside it
    (``resources.gpu.count`` or ``spec.template.spec.containers[0].image``).
    """

    where: str
    field: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        from .credential_patterns import redact

        location = self.where + (f": {self.field}" if self.field else "")
        text = f"{location}: {self.message}" if location else self.message
        if self.hint:
            text += f"\n    hint: {self.hint}"
        # A message may quote the value it refuses; a credential in it is never printed (masked instead).
        return redact(text)


@dataclass
class MlkubeError(Exception):
    """A user error. The CLI prints it and exits with ``exit_code``; nothing is written."""

    problems: list[Problem] = field(default_factory=list)
    title: str = "mlkube found problems"
    exit_code: int = EXIT_USER_ERROR

    @classmethod
    def single(cls, message: str, *, where: str = "", field: str = "", hint: str = "", exit_code: int = EXIT_USER_ERROR) -> MlkubeError:
        return cls([Problem(where, field, message, hint)], title=message if not where else "mlkube found a problem", exit_code=exit_code)

    def __str__(self) -> str:
        return format_problems(self.title, self.problems)


def format_problems(title: str, problems: list[Problem]) -> str:
    """Render problems as a stable, sorted, numbered report."""
    if len(problems) == 1 and problems[0].message == title and not problems[0].where:
        return "error: " + str(problems[0])
    lines = [f"error: {title} ({len(problems)} problem{'s' if len(problems) != 1 else ''})"]
    for problem in sorted(set(problems)):
        lines.append("  - " + str(problem).replace("\n", "\n    "))
    return "\n".join(lines)


def os_error_text(error: OSError) -> str:
    """``cannot write dist/x.yaml: Read-only file system`` (what failed, on which path), without a traceback."""
    path = error.filename if error.filename is not None else ""
    reason = error.strerror or str(error)
    return f"cannot use {path}: {reason}; nothing was changed" if path else f"{reason}; nothing was changed"
