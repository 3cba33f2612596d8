"""A sync's schedule evaluated: the next cron slot in the schedule's time zone, or a
``ScheduleError`` naming the field at fault."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter


class ScheduleError(Exception):
    """A stored schedule the scheduler cannot evaluate: ``reason`` (a metric label), the
    ``field`` at fault and a message naming it."""

    def __init__(self, reason: str, field: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.field, self.message = reason, field, message

    @property
    def pointer(self) -> str:
        return "/data/attributes/" + self.field.replace(".", "/")


def slot_after(schedule: Any, moment: datetime) -> datetime:
    """The first cron slot of ``schedule`` after ``moment`` (UTC); ``ScheduleError`` for a
    schedule that cannot be evaluated (not a cron, an unknown zone, a cron that never
    fires such as 30 February)."""
    if not isinstance(schedule, dict):
        raise ScheduleError("schedule_invalid", "schedule",
                            f"schedule must be an object, not {type(schedule).__name__}.")
    cron, zone = schedule.get("cron"), schedule.get("timezone") or "UTC"
    if not isinstance(cron, str) or not cron.strip():
        raise ScheduleError("schedule_cron_invalid", "schedule.cron",
                            f"schedule.cron {cron!r} is not a cron expression.")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError("schedule_timezone_invalid", "schedule.timezone",
                            f"schedule.timezone {zone!r} is not a known time zone.") from None
    try:
        return croniter(cron, moment.astimezone(tz)).get_next(datetime).astimezone(UTC)
    except CroniterBadDateError:
        raise ScheduleError("schedule_cron_never_fires", "schedule.cron",
                            f"schedule.cron {cron!r} never fires (no date matches it).") \
            from None
    except (CroniterError, ValueError, TypeError, KeyError, AttributeError, OverflowError):
        raise ScheduleError("schedule_cron_invalid", "schedule.cron",
                            f"schedule.cron {cron!r} is not a cron expression.") from None
