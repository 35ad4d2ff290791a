"""Kubernetes resource quantities, read exactly as the API server reads them.

The parser follows ``ParseQuantity`` and ``parseQuantityString`` of k8s.io/apimachinery
(pkg/api/resource/quantity.go and suffix.go, commit eed236ce): ASCII digits only, an optional sign,
``<digits>[.<digits>]`` (``1.``, ``.5``, even ``.`` and ``-`` alone read as 0), then one suffix:
a binary one (Ki..Ei), a decimal one (n u m "" k M G T P E) or an exponent (``e3``, ``E-3``).
Non-zero values are rounded up to 1n; binary values are capped at 2^63-1. When a manifest field
holds the quantity, JSON decoding trims surrounding white space first (``UnmarshalJSON``).

mlkube refuses what the API server refuses, plus one bound of its own: values of 10^64 or more
(``1e999999999`` would make the API server build a billion-digit number; here it is a clean error).
"""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MIN_EMIN, ROUND_UP, Context, Decimal
from typing import TYPE_CHECKING, Annotated, Any

__all__ = ["Quantity", "QuantityError", "parse_quantity", "is_quantity", "check_quantity_value", "MAX_MAGNITUDE_DIGITS"]

_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
# (base, exponent) of each suffix: suffix.go newSuffixer / fastLookup.
_SUFFIXES = {
    "": (10, 0), "n": (10, -9), "u": (10, -6), "m": (10, -3), "k": (10, 3), "M": (10, 6), "G": (10, 9),
    "T": (10, 12), "P": (10, 15), "E": (10, 18),
    "Ki": (2, 10), "Mi": (2, 20), "Gi": (2, 30), "Ti": (2, 40), "Pi": (2, 50), "Ei": (2, 60),
}
_INT64_MAX = 2**63 - 1
#: Values at or above 10 ** this many digits are refused (no resource comes near; see the module doc).
MAX_MAGNITUDE_DIGITS = 64
_NANO = Decimal("1e-9")
_CONTEXT = Context(prec=MAX_MAGNITUDE_DIGITS + 40, Emax=MAX_EMAX, Emin=MIN_EMIN)
_EXPONENT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_EXAMPLES = "examples: 500m, 2, 0.5, 512Mi, 10Gi, 1e3"


class QuantityError(ValueError):
    """A value that is not a Kubernetes quantity; the message says why and what is allowed."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _split(text: str) -> tuple[bool, str, str, str]:
    """parseQuantityString: (positive, numerator, denominator, suffix); raises on a malformed suffix."""
    positive, pos, end = True, 0, len(text)
    if pos < end and text[0] in "+-":
        positive, pos = text[0] == "+", 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    numerator = text[start:pos] or "0"
    denominator = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denominator = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        where = f"{_shown(text[pos:])} cannot follow the number" if text[:pos].strip("+-.0") or (pos and text[0] in "0.") \
            else "it does not start with an (ASCII) number"
        raise QuantityError(f"{_shown(text)} is not a Kubernetes quantity: {where} ({_EXAMPLES})")
    return positive, numerator, denominator, text[suffix_start:]


def _interpret(text: str, suffix: str) -> tuple[int, int]:
    """suffixHandler.interpret: (base, exponent) of a suffix, or an exponent ``e<int64>``."""
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    # strconv.ParseInt(suffix[1:], 10, 64): a sign, ASCII digits, within int64.
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT.fullmatch(suffix[1:]) and -(2**63) <= int(suffix[1:]) <= _INT64_MAX:
        return 10, int(suffix[1:])
    raise QuantityError(f"{_shown(text)} is not a Kubernetes quantity: unknown suffix {_shown(suffix)} "
                        f"(allowed: Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent such as e3; {_EXAMPLES})")


def parse_quantity(value: object, *, trim: bool = True) -> Decimal:
    """The value of a quantity in base units (cores, bytes): ``"512Mi"`` -> 536870912.

    ``trim`` removes surrounding white space as JSON decoding of a manifest does; ``ParseQuantity``
    itself (``trim=False``) refuses it. Raises QuantityError (a ValueError) with a clear message.
    """
    if isinstance(value, bool):
        raise QuantityError("a quantity is a number or a string such as '500m' or '4Gi', not a boolean")
    text = _number_text(value) if isinstance(value, int | float) else value
    if not isinstance(text, str):
        raise QuantityError(f"a quantity is a number or a string ({_EXAMPLES}), not {type(value).__name__}")
    if trim:
        text = text.strip()
    if not text:
        raise QuantityError(f"a quantity cannot be empty ({_EXAMPLES})")
    positive, numerator, denominator, suffix = _split(text)
    base, exponent = _interpret(text, suffix)
    magnitude = Decimal(f"{numerator}.{denominator or '0'}")
    if base == 10:
        magnitude = magnitude.scaleb(exponent, context=_CONTEXT)
    else:
        magnitude = _CONTEXT.multiply(magnitude, Decimal(2) ** exponent)
    if magnitude and magnitude.adjusted() >= MAX_MAGNITUDE_DIGITS:
        raise QuantityError(f"{_shown(text)} is too large for a quantity (at most 10^{MAX_MAGNITUDE_DIGITS}; "
                            f"Kubernetes counts resources in 64-bit integers, about 9.2e18)")
    if magnitude:
        magnitude = magnitude.quantize(_NANO, rounding=ROUND_UP, context=_CONTEXT)  # rounded up to 1n
    if base == 2 and magnitude > _INT64_MAX:
        magnitude = Decimal(_INT64_MAX)  # "The max is just a simple cap" (binary suffixes only)
    return magnitude if positive else -magnitude


def _number_text(value: int | float) -> str:
    # JSON numbers reach UnmarshalJSON as their text; Go writes 1e+21 for large floats, as Python does.
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise QuantityError(f"{value} is not a Kubernetes quantity ({_EXAMPLES})")
    return str(value)


def is_quantity(value: object) -> bool:
    try:
        parse_quantity(value)
    except ValueError:
        return False
    return True


def check_quantity_value(value: object, *, allow_negative: bool = False) -> str | None:
    """Why a manifest field value is refused by the API server, or None when it is accepted.

    Resource fields are also checked for sign (ValidateNonnegativeQuantity in
    kubernetes pkg/apis/core/validation) unless ``allow_negative``.
    """
    if value is None:
        return None  # null: JSON decoding leaves the field empty
    try:
        number = parse_quantity(value)
    except ValueError as error:
        return str(error)
    if number < 0 and not allow_negative:
        return f"{_shown(str(value))} is negative; this quantity must be zero or more"
    return None


def _check_spec_quantity(value: str) -> str:
    number = parse_quantity(value)
    if number < 0:
        raise QuantityError(f"{_shown(value)} is negative; resources and sizes must be zero or more")
    return value.strip()


def _coerce(value: object) -> object:
    # YAML and Python users write cpu: 2 or cpu: 0.5; Kubernetes wants a string.
    if isinstance(value, bool):
        raise ValueError("a quantity is a number or a string such as '500m' or '4Gi', not a boolean")
    if isinstance(value, int | float):
        parse_quantity(value)
        return format(Decimal(str(value)).normalize(), "f")
    return value


if TYPE_CHECKING:
    from pydantic import AfterValidator, BeforeValidator

    #: A non-negative Kubernetes quantity such as ``500m``, ``2``, ``16Gi``; numbers are accepted and written as strings.
    Quantity = Annotated[str, BeforeValidator(_coerce), AfterValidator(_check_spec_quantity)]
else:
    def __getattr__(name: str) -> Any:
        """``Quantity``, made on first use (PEP 562): specs need pydantic, but validate, diff and check read
        quantities without it (about 0.07 s of start-up; issue 22)."""
        if name != "Quantity":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from pydantic import AfterValidator, BeforeValidator

        quantity = Annotated[str, BeforeValidator(_coerce), AfterValidator(_check_spec_quantity)]
        globals()["Quantity"] = quantity
        return quantity
