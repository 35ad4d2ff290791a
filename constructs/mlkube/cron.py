"""Cron schedules as the CronJob controller reads them: 5 fields or an @-macro, and IANA time zones."""

from __future__ import annotations

import re
import zoneinfo

__all__ = ["check_schedule", "check_time_zone", "MACROS"]

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = {name: number for number, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}
_DAYS = {name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
# (field name, lowest, highest, names)
_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
           ("month", 1, 12, _MONTHS), ("day of week", 0, 6, _DAYS))
_ITEM = re.compile(r"^(?P<range>\*|\?|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/(?P<step>[0-9]+))?$")


def check_schedule(schedule: str) -> str:
    """Return the schedule, or raise ValueError saying which field is wrong and what is allowed."""
    text = schedule.strip()
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        raise ValueError(f"schedule {schedule!r} sets a time zone inline, which Kubernetes refuses; use time_zone")
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise ValueError(f"schedule {schedule!r} is not a known macro; use one of {', '.join(MACROS)}")
        return text
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"schedule {schedule!r} has {len(fields)} fields; a cron schedule has 5: "
                         "minute hour day-of-month month day-of-week (e.g. '30 2 * * *')")
    for value, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for item in value.split(","):
            _check_item(schedule, item, name, low, high, names)
    return text


def _check_item(schedule: str, item: str, name: str, low: int, high: int, names: dict[str, int]) -> None:
    match = _ITEM.match(item)
    if not match:
        raise ValueError(f"schedule {schedule!r}: {name} item {item!r} is not a value, a range a-b, '*' or a step x/n")
    if match["range"] == "?" and name not in ("day of month", "day of week"):
        raise ValueError(f"schedule {schedule!r}: '?' is allowed only in day of month or day of week")
    if match["step"] is not None and int(match["step"]) == 0:
        raise ValueError(f"schedule {schedule!r}: {name} step in {item!r} must be at least 1")
    if match["range"] in ("*", "?"):
        return
    bounds = [_value(schedule, part, name, low, high, names) for part in match["range"].split("-")]
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        raise ValueError(f"schedule {schedule!r}: {name} range {item!r} runs backwards")


def _value(schedule: str, text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.isdigit():
        number = int(text)
    elif text.upper() in names:
        number = names[text.upper()]
    else:
        allowed = f"{low}-{high}" + (f" or {', '.join(names)}" if names else "")
        raise ValueError(f"schedule {schedule!r}: {name} value {text!r} is not a number (allowed: {allowed})")
    if not low <= number <= high:
        raise ValueError(f"schedule {schedule!r}: {name} value {number} is outside {low}-{high}")
    return number


def check_time_zone(name: str) -> str:
    """Return the IANA zone name, or raise ValueError naming it."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"time zone {name!r} is unknown; use an IANA name such as 'Etc/UTC' or 'Europe/Paris'") from error
    return name
