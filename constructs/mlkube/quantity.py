"""Kubernetes resource quantities: parsing for comparisons, and a pydantic type that checks them."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

__all__ = ["Quantity", "parse_quantity", "is_quantity"]

# The grammar of resource.Quantity (k8s.io/apimachinery/pkg/api/resource).
_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$")
_SUFFIX = {
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"),
    "T": Decimal("1e12"), "P": Decimal("1e15"), "E": Decimal("1e18"),
}


def is_quantity(value: str) -> bool:
    return bool(_QUANTITY.match(value))


def parse_quantity(value: str | int | float) -> Decimal:
    """Return the value of a quantity in base units (cores, bytes): ``"512Mi"`` -> 536870912."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 10Gi)")
    number, exponent, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as error:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"{value!r} is not a number") from error
    if exponent:
        return base * (Decimal(10) ** int(exponent[1:]))
    return base * _SUFFIX[suffix or ""]


def _check_quantity(value: str) -> str:
    parse_quantity(value)
    return value


def _coerce(value: object) -> object:
    # YAML and Python users write cpu: 2 or cpu: 0.5; Kubernetes wants a string.
    if isinstance(value, bool):
        raise ValueError("a quantity is a number or a string such as '500m' or '4Gi', not a boolean")
    if isinstance(value, int | float):
        return format(Decimal(str(value)).normalize(), "f")
    return value


#: A Kubernetes quantity such as ``500m``, ``2``, ``16Gi``; numbers are accepted and written as strings.
Quantity = Annotated[str, BeforeValidator(_coerce), AfterValidator(_check_quantity)]
