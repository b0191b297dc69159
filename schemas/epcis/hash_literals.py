"""Canonical text of the scalar values in the CBV 2.0 event hash (:mod:`schemas.epcis.hash`).

Literals (strings stripped, booleans lower case), numbers (no exponent, no trailing zeros, ``-0`` → ``0``)
and date-times (UTC, ``YYYY-MM-DDTHH:MM:SS.mmmZ``, rounded half up on the fourth fraction digit).
Malformed values never raise: they are hashed as written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["literal_text", "number_text", "scalar_text", "time_text"]


def scalar_text(value: Any) -> str:
    """A JSON scalar as text (a string stripped)."""
    return value.strip() if value.__class__ is str else literal_text(value)


def literal_text(value: Any) -> str:
    """A JSON scalar as text: strings stripped, numbers without trailing zeros, booleans lower case."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    return "" if value is None else str(value).strip()


def _float(value: float) -> str:
    text = repr(value)  # the shortest round-trip form: no trailing zeros but in "….0"
    if "e" in text or "n" in text:  # exponent, inf, nan
        return _plain(Decimal(text))
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def _plain(number: Decimal) -> str:
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def number_text(value: Any) -> str:
    """A quantity or sensor value; numeric text is written like a number (``"5.50"`` → ``5.5``)."""
    if value.__class__ is float:
        return _float(value)
    if not isinstance(value, str):
        return literal_text(value)
    text = value.strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return _plain(number) if number.is_finite() else text


_UTC = frozenset({"Z", "z", "+00:00", "-00:00", ""})
_MINUTES: dict[str, str] = {}
"""``YYYY-MM-DDTHH:MM`` + zone → that minute in UTC (offsets are whole minutes: seconds stay)."""


_TIMES: dict[str, str] = {}
"""Date-times as written → :func:`time_text` (the events of a document often share theirs)."""


def time_text(value: Any) -> str:
    """ISO 8601 date-time → UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ``, rounded half up to the millisecond."""
    if value.__class__ is str:
        cached = _TIMES.get(value)
        if cached is None:
            if len(_TIMES) >= 4096:
                _TIMES.clear()
            cached = _TIMES[value] = _convert_time(value.strip())
        return cached
    return _convert_time(literal_text(value))


def _convert_time(text: str) -> str:
    """:func:`time_text` of stripped text; text that is not an ISO 8601 date-time comes back as written."""
    size = len(text)
    if size < 19 or text[4] != "-" or text[7] != "-" or text[13] != ":" or text[16] != ":":
        return text
    if text[-1] in "Zz":
        end = size - 1
    elif size >= 25 and text[-6] in "+-" and text[-3] == ":":
        end = size - 6
    else:
        end = size
    fraction = text[20:end]
    if end > 19 and (text[19] not in ".," or not fraction.isdigit()):
        return text
    zone = text[end:]
    millis = fraction[:3].ljust(3, "0")
    if len(fraction) > 3 and fraction[3] >= "5":
        return _utc(text, zone, int(millis) + 1) or text
    if zone in _UTC:
        return f"{text[:10]}T{text[11:19]}.{millis}Z"
    key = text[:16] + zone
    minute = _MINUTES.get(key)
    if minute is None:
        full = _utc(text, zone, 0)
        if not full:
            return text
        if len(_MINUTES) >= 4096:
            _MINUTES.clear()
        minute = _MINUTES[key] = full[:16]
    return f"{minute}:{text[17:19]}.{millis}Z"


def _utc(text: str, zone: str, millis: int) -> str:
    """The full conversion of a date-time (checked by :func:`_convert_time`); "" when it is invalid."""
    try:
        minutes = 0
        if zone not in _UTC:
            if zone[0] not in "+-" or not (zone[1:3] + zone[4:]).isdigit():
                return ""
            minutes = (int(zone[1:3]) * 60 + int(zone[4:])) * (-1 if zone[0] == "-" else 1)
        moment = datetime(
            int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:19])
        ) + timedelta(milliseconds=millis, minutes=-minutes)
    except (ValueError, OverflowError):
        return ""
    return moment.isoformat(timespec="milliseconds") + "Z"
