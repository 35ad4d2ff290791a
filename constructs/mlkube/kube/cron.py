"""Cron schedules as the API server reads them, and IANA time zones.

CronJob validation (kubernetes pkg/apis/batch/validation/validation.go, validateScheduleFormat)
parses the schedule with robfig/cron v3 ``ParseStandard`` and, on create, refuses any schedule that
contains "TZ". This module follows robfig/cron parser.go (commit bc59245f) rule by rule:

- descriptors are matched exactly and case-sensitively: ``@yearly @annually @monthly @weekly @daily
  @midnight @hourly`` and ``@every <Go duration>`` (``@every 5m``, ``@every 1h30m``); ``@DAILY`` is refused;
- otherwise exactly 5 fields split on white space; each field is items separated by commas (empty
  items are dropped); an item is ``*`` or ``?`` (any field), ``a``, ``a-b``, each optionally ``/step``;
  numbers are Go ``strconv.Atoi`` (``+5`` reads as 5); month and weekday names are case-insensitive;
- bounds: minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-6.
"""

from __future__ import annotations

import re
import zoneinfo
from decimal import Decimal

__all__ = ["check_schedule", "check_time_zone", "MACROS"]

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = {name: number for number, name in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_DAYS = {name: number for number, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
# (field name, lowest, highest, names)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
           ("month", 1, 12, _MONTHS), ("day of week", 0, 6, _DAYS))
_ATOI = re.compile(r"[+-]?[0-9]+", re.ASCII)
# time.ParseDuration: [-+]? then one or more <number><unit>, or a bare 0.
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")  # [0-9] is ASCII only
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_EVERY = "@every "


def check_schedule(schedule: str) -> str:
    """Return the schedule, or raise ValueError saying which field is wrong and what is allowed."""
    if "TZ" in schedule:
        raise ValueError(f"schedule {schedule!r} sets a time zone inline (TZ or CRON_TZ), which Kubernetes refuses; use time_zone")
    if not schedule:
        raise ValueError("the schedule is empty; give 5 fields such as '30 2 * * *' or a macro such as @daily")
    if schedule.startswith("@"):
        if schedule in MACROS:
            return schedule
        if schedule.startswith(_EVERY):
            _check_duration(schedule, schedule[len(_EVERY):])
            return schedule
        raise ValueError(f"schedule {schedule!r} is not a known macro; use one of {', '.join(MACROS)} (lower case) "
                         "or '@every <duration>' such as '@every 5m'")
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(f"schedule {schedule!r} has {len(fields)} fields; a cron schedule has 5: "
                         "minute hour day-of-month month day-of-week (e.g. '30 2 * * *')")
    for value, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for item in (part for part in value.split(",") if part):
            _check_item(schedule, item, name, low, high, names)
    return schedule


def _check_duration(schedule: str, text: str) -> None:
    """Go time.ParseDuration, which robfig/cron uses for ``@every``."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return
    total, position = Decimal(0), 0
    for match in _DURATION_PART.finditer(body):
        number = match.group(1)
        if match.start() != position or number in ("", "."):
            break
        total += Decimal(number if number[0] != "." else "0" + number) * _UNIT_NS[match.group(2)]
        position = match.end()
    if not body or position != len(body):
        raise ValueError(f"schedule {schedule!r}: {text!r} is not a duration; write it like 5m, 1h30m or 90s")
    if total > 2**63 - 1:
        raise ValueError(f"schedule {schedule!r}: the duration {text!r} is too long")


def _check_item(schedule: str, item: str, name: str, low: int, high: int, names: dict[str, int]) -> None:
    range_and_step = item.split("/")
    if len(range_and_step) > 2:
        raise ValueError(f"schedule {schedule!r}: {name} item {item!r} has too many slashes")
    bounds = range_and_step[0].split("-")
    if bounds[0] in ("*", "?"):
        start, end = low, high
    else:
        if len(bounds) > 2:
            raise ValueError(f"schedule {schedule!r}: {name} item {item!r} has too many hyphens")
        start = _value(schedule, bounds[0], name, low, high, names)
        end = _value(schedule, bounds[1], name, low, high, names) if len(bounds) == 2 else start
    if len(range_and_step) == 2:
        step = _number(schedule, range_and_step[1], name)
        if len(bounds) == 1:
            end = high  # "5/15" means from 5 to the end, every 15
        if step == 0:
            raise ValueError(f"schedule {schedule!r}: {name} step in {item!r} must be at least 1")
    if start < low:
        raise ValueError(f"schedule {schedule!r}: {name} value {start} is outside {low}-{high}")
    if end > high:
        raise ValueError(f"schedule {schedule!r}: {name} value {end} is outside {low}-{high}")
    if start > end:
        raise ValueError(f"schedule {schedule!r}: {name} range {item!r} runs backwards")


def _number(schedule: str, text: str, name: str) -> int:
    if not _ATOI.fullmatch(text):
        raise ValueError(f"schedule {schedule!r}: {name} value {text!r} is not a number")
    number = int(text)
    if number < 0:
        raise ValueError(f"schedule {schedule!r}: {name} value {number} is negative")
    return number


def _value(schedule: str, text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not _ATOI.fullmatch(text):
        allowed = f"{low}-{high}" + (f" or {', '.join(n.upper() for n in names)}" if names else "")
        raise ValueError(f"schedule {schedule!r}: {name} value {text!r} is not a number (allowed: {allowed})")
    return _number(schedule, text, name)


def check_time_zone(name: str) -> str:
    """Return the IANA zone name, or raise ValueError naming it."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"time zone {name!r} is unknown; use an IANA name such as 'Etc/UTC' or 'Europe/Paris'") from error
    return name
