"""The agreement runner itself: crashes, disagreements and stale notes are counted, never passed."""

from __future__ import annotations

import pytest
from agreement import Case, run_suite


def _judge(text: str) -> bool:
    if text == "boom":
        raise ValueError("judge failed")
    return text.isdigit()


CASES = [
    Case("digits", "12", True, "test"),
    Case("letters", "ab", False, "test"),
    Case("known", "3", False, "test", disagreement="we read it as a number"),
    Case("crash", "boom", True, "test"),
]


def test_counts_agreement_disagreement_and_crash() -> None:
    result = run_suite("demo", CASES, _judge)
    assert (result.total, result.agreed, len(result.accepted), len(result.crashes)) == (4, 2, 1, 1)
    assert "ValueError: judge failed" in result.crashes[0].crash
    assert result.readme_row() == "| demo | 4 | 2 | 1 | 1 | 50.0% |"
    with pytest.raises(AssertionError, match="CRASH     crash"):
        result.check(minimum=0.0)


def test_fails_when_a_disagreement_has_no_reason() -> None:
    result = run_suite("demo", [Case("letters", "ab", True, "upstream.go#L1")], _judge)
    with pytest.raises(AssertionError, match="DISAGREES letters: expected True, got False"):
        result.check(minimum=0.0)


def test_fails_when_an_accepted_disagreement_now_agrees() -> None:
    result = run_suite("demo", [Case("digits", "12", True, "test", disagreement="old note")], _judge)
    with pytest.raises(AssertionError, match="STALE"):
        result.check(minimum=0.0)


def test_fails_below_the_minimum_agreement() -> None:
    cases = [Case(str(i), str(i), True, "t") for i in range(99)] + [Case("x", "x", True, "t", disagreement="why")]
    run_suite("demo", cases, _judge).check(minimum=0.99)
    with pytest.raises(AssertionError, match="minimum agreement 100%"):
        run_suite("demo", cases, _judge).check(minimum=1.0)


def test_fails_when_a_case_name_repeats() -> None:
    with pytest.raises(AssertionError, match="used twice"):
        run_suite("demo", [CASES[0], CASES[0]], _judge)
