"""Agreement with upstream verdicts: table-driven cases, counted per suite.

A suite is a list of :class:`Case` (an input, the verdict upstream's own test data gives for it,
and where that verdict comes from) and a judge: the mlkube function whose answer is compared with
the verdict. :func:`run_suite` runs every case (a judge that raises is a crash, never a pass) and
:class:`SuiteResult` counts agreement, lists each disagreement with its accepted reason, and checks
the suite's row in ``tests/upstream/README.md``.

How a suite file uses it (``test_<name>_agreement.py`` in this folder)::

    from agreement import Case, run_suite

    CASES = [Case("1.5Gi", expected=True, source="kubernetes/apimachinery .../quantity_test.go#L120"), ...]

    def test_agreement() -> None:
        result = run_suite("quantity", CASES, judge=lambda text: is_quantity(text))
        result.check(minimum=0.99)        # no crash, no unexplained disagreement, agreement >= 99%
        result.check_readme_row()         # the README table shows these counts

``python tests/upstream/agreement.py`` prints the README table of every suite in this folder.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Case", "Outcome", "SuiteResult", "run_suite", "README", "readme_table"]

README = Path(__file__).parent / "README.md"
_HEADER = ("| suite | cases | agree | accepted disagreements | crashes | agreement |\n"
           "|---|---:|---:|---:|---:|---:|")


@dataclass(frozen=True)
class Case:
    """One upstream verdict.

    ``name`` is unique within its suite; ``input`` is what the judge is given; ``expected`` is
    upstream's verdict for it (``"valid"``/``"invalid"``, a bool, a number...); ``source`` cites the
    upstream file (``owner/repo@commit:path#Lline``); ``disagreement``, when not empty, says why
    mlkube knowingly answers otherwise (for example "API removed before Kubernetes 1.25").
    """

    name: str
    input: Any
    expected: Any
    source: str
    disagreement: str = ""


@dataclass(frozen=True)
class Outcome:
    case: Case
    got: Any = None
    crash: str = ""  # the traceback of a judge that raised

    @property
    def agrees(self) -> bool:
        return not self.crash and self.got == self.case.expected


@dataclass
class SuiteResult:
    suite: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def agreed(self) -> int:
        return sum(outcome.agrees for outcome in self.outcomes)

    @property
    def crashes(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.crash]

    @property
    def accepted(self) -> list[Outcome]:
        """Disagreements whose case states why mlkube answers otherwise."""
        return [o for o in self.outcomes if not o.agrees and not o.crash and o.case.disagreement]

    @property
    def unexplained(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.agrees and not o.crash and not o.case.disagreement]

    @property
    def stale(self) -> list[Outcome]:
        """Cases marked as accepted disagreements that now agree: the mark must go."""
        return [o for o in self.outcomes if o.agrees and o.case.disagreement]

    @property
    def agreement(self) -> float:
        return self.agreed / self.total if self.total else 0.0

    def readme_row(self) -> str:
        return (f"| {self.suite} | {self.total} | {self.agreed} | {len(self.accepted)} | {len(self.crashes)} "
                f"| {self.agreement:.1%} |")

    def report(self) -> str:
        """The counts, then every disagreement and crash, one a line."""
        lines = [f"{self.suite}: {self.agreed}/{self.total} agree ({self.agreement:.1%}), "
                 f"{len(self.accepted)} accepted disagreement(s), {len(self.crashes)} crash(es)"]
        lines += [f"  accepted  {o.case.name}: expected {o.case.expected!r}, got {o.got!r}: {o.case.disagreement}"
                  for o in self.accepted]
        lines += [f"  DISAGREES {o.case.name}: expected {o.case.expected!r}, got {o.got!r} ({o.case.source})"
                  for o in self.unexplained]
        lines += [f"  STALE     {o.case.name}: agrees now; drop its disagreement note" for o in self.stale]
        lines += [f"  CRASH     {o.case.name} ({o.case.source}):\n{o.crash}" for o in self.crashes]
        return "\n".join(lines)

    def check(self, minimum: float = 0.99) -> None:
        """Fail on any crash, unexplained disagreement or stale note, or agreement below ``minimum``."""
        print(self.report())
        assert self.total, f"{self.suite}: no case ran"
        problems = self.crashes or self.unexplained or self.stale or self.agreement < minimum
        assert not problems, f"{self.report()}\n(minimum agreement {minimum:.0%})"

    def check_readme_row(self) -> None:
        """The README table must show exactly these counts."""
        row = self.readme_row()
        rows = [line for line in README.read_text().splitlines() if line.startswith(f"| {self.suite} |")]
        assert rows == [row], f"tests/upstream/README.md: the row of suite {self.suite!r} must read\n{row}\nnot {rows}"


def run_suite(suite: str, cases: Iterable[Case], judge: Callable[[Any], Any]) -> SuiteResult:
    """Every case through ``judge``; an exception is recorded as a crash with its traceback."""
    result = SuiteResult(suite)
    names: set[str] = set()
    for case in cases:
        assert case.name not in names, f"{suite}: case name {case.name!r} is used twice"
        names.add(case.name)
        try:
            result.outcomes.append(Outcome(case, got=judge(case.input)))
        except Exception:
            result.outcomes.append(Outcome(case, crash=traceback.format_exc(limit=6)))
    return result


def readme_table(results: Iterable[SuiteResult]) -> str:
    return "\n".join([_HEADER, *(result.readme_row() for result in results)])


def _suite_results() -> list[SuiteResult]:
    # Each test_*_agreement.py exposes results() -> list[SuiteResult] (empty when its inputs are absent).
    folder = Path(__file__).parent
    sys.path.insert(0, str(folder))
    results: list[SuiteResult] = []
    for path in sorted(folder.glob("test_*_agreement.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "results"):
            results += module.results()
        else:
            print(f"{path.name}: no results() (plain pytest cases), not in the table", file=sys.stderr)
    return results


if __name__ == "__main__":
    all_results = _suite_results()
    for one in all_results:
        print(one.report(), file=sys.stderr)
    print(readme_table(all_results))
