"""mlkube.kube.cron against robfig/cron v3's parser tests and Kubernetes' CronJob validation.

Sources: robfig/cron parser_test.go (commit bc59245f: TestRange, TestField, TestParseScheduleErrors,
TestStandardSpecSchedule, TestParseSchedule descriptors) and kubernetes pkg/apis/batch/validation
(validateScheduleFormat: ParseStandard, and any "TZ" refused on create). TestRange rows use ad-hoc
bounds; each is placed here in a field whose bounds give the same verdict.
"""

from __future__ import annotations

import pytest

from mlkube.kube.cron import check_schedule

ACCEPTED = [
    # TestRange (placed in the minute field, 0-59, or the day-of-week field, 0-6)
    "5 * * * *", "0 * * * *", "5-5 * * * *", "5-6 * * * *", "5-7 * * * *", "5-6/2 * * * *", "5-7/2 * * * *",
    "5-7/1 * * * *", "* * * * *", "*/2 * * * *",
    # TestField
    "5,6 * * * *", "5,6,7 * * * *", "1,5-7/2,3 * * * *",
    # TestStandardSpecSchedule / TestParseSchedule (standard parser and descriptors)
    "@every 5m", "@midnight", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly",
    # getRange: "?" is "*" in every field
    "? * * * *", "0 ? * * *", "0 0 ? * ?",
]
REFUSED = [
    # TestRange errors
    "5--5 * * * *", "* * * jan-x *", "2-x * * * *", "*/-12 * * * *", "*//2 * * * *", "0 0 0 * *", "60 * * * *",
    "5-3 * * * *", "*/0 * * * *",
    # TestParseScheduleErrors / TestStandardSpecSchedule
    "5 j * * *", "* * * *", "@every Xm", "@unrecognized", "",
    # parseDescriptor matches exactly: upper-case macros are unrecognized
    "@DAILY", "@Hourly", "@YEARLY",
    # kubernetes validateScheduleFormat on create
    "CRON_TZ=UTC 5 * * * *", "TZ=Asia/Tokyo 5 * * * *",
]


@pytest.mark.parametrize("schedule", ACCEPTED)
def test_accepted_upstream(schedule):
    assert check_schedule(schedule) == schedule


@pytest.mark.parametrize("schedule", REFUSED)
def test_refused_upstream(schedule):
    with pytest.raises(ValueError):
        check_schedule(schedule)


# --- counted in the agreement table (tests/upstream/README.md) -------------------------------------
SOURCE = "robfig/cron@bc59245f:parser_test.go; kubernetes pkg/apis/batch/validation validateScheduleFormat"


def _accepted(schedule: str) -> bool:
    try:
        check_schedule(schedule)
    except ValueError:
        return False
    return True


def results() -> list:
    from agreement import Case, run_suite

    cases = [Case(f"accepted {s!r}", s, True, SOURCE) for s in ACCEPTED] + [Case(f"refused {s!r}", s, False, SOURCE) for s in REFUSED]
    return [run_suite("cron", cases, _accepted)]


def test_agreement() -> None:
    for result in results():
        result.check(minimum=0.99)
        result.check_readme_row()
