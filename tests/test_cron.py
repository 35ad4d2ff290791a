"""Cron syntax accepted and refused the way the CronJob controller does."""

from __future__ import annotations

import pytest

from mlkube.kube.cron import check_schedule, check_time_zone


@pytest.mark.parametrize("schedule", ["* * * * *", "0 2 * * *", "*/15 * * * *", "0 9-17 * * MON-FRI", "0 0 1,15 * *",
                                      "5 4 * jan,jul sun", "0 0 ? * 1", "10-50/5 3 * * 0-6", "@hourly", "@yearly", "@midnight",
                                      # robfig/cron ParseStandard accepts these (the API server too):
                                      "@every 5m", "@every 1h30m", "? * * * *", "5/15 * * * *"])
def test_valid_schedules_are_kept(schedule):
    assert check_schedule(schedule) == schedule


@pytest.mark.parametrize(("schedule", "message"), [
    ("* * * * * *", "has 6 fields"),
    ("0 24 * * *", "hour value 24 is outside 0-23"),
    ("0 0 0 * *", "day of month value 0 is outside 1-31"),
    ("0 0 * 13 *", "month value 13 is outside 1-12"),
    ("0 0 * * 7", "day of week value 7 is outside 0-6"),
    ("@DAILY", "is not a known macro"),  # descriptors are matched case-sensitively (parser.go parseDescriptor)
    ("@Hourly", "is not a known macro"),
    ("@every 5", "is not a duration"),
    ("*/0 * * * *", "step in '*/0' must be at least 1"),
    ("0 0 * * MON-", "day of week value '' is not a number"),
    ("CRON_TZ=UTC 0 0 * * *", "sets a time zone inline"),
])
def test_invalid_schedules_are_refused(schedule, message):
    with pytest.raises(ValueError) as caught:
        check_schedule(schedule)
    assert message in str(caught.value)


def test_time_zones():
    assert check_time_zone("America/New_York") == "America/New_York"
    for bad in ("Europe/Atlantis", "../etc/passwd", ""):
        with pytest.raises(ValueError, match="is unknown"):
            check_time_zone(bad)
