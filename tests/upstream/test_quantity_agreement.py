"""mlkube.kube.quantity against apimachinery's own verdicts.

Cases are the inputs of k8s.io/apimachinery pkg/api/resource/quantity_test.go (kubernetes/apimachinery
commit eed236ce, TestQuantityParse, TestParseQuantityString, TestParseQuantity, TestJSONWhitespace):
the verdict (parses or not) and, where the test states it, the value. Upstream files stay outside
the repository; these are facts read from them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mlkube.kube.quantity import parse_quantity

SOURCE = "apimachinery pkg/api/resource/quantity_test.go@eed236ce"

# TestQuantityParse table: (input, value in base units) - every one parses.
VALID = [
    ("0", "0"), ("0n", "0"), ("0u", "0"), ("0m", "0"), ("0Ki", "0"), ("0k", "0"), ("0Mi", "0"), ("0M", "0"),
    ("0Gi", "0"), ("0G", "0"), ("0Ti", "0"), ("0T", "0"), ("1", "1"),
    ("1Ki", "1024"), ("8Ki", "8192"), ("7Mi", str(7 * 2**20)), ("6Gi", str(6 * 2**30)), ("5Ti", str(5 * 2**40)),
    ("4Pi", str(4 * 2**50)), ("3Ei", str(3 * 2**60)), ("10Ti", str(10 * 2**40)), ("100Ti", str(100 * 2**40)),
    ("5n", "5e-9"), ("4u", "4e-6"), ("3m", "0.003"), ("9", "9"), ("8k", "8000"), ("50k", "50000"), ("7M", "7e6"),
    ("6G", "6e9"), ("5T", "5e12"), ("40T", "4e13"), ("300T", "3e14"), ("2P", "2e15"), ("1E", "1e18"),
    ("1E-3", "0.001"), ("1e3", "1000"), ("1E6", "1e6"), ("1e9", "1e9"), ("1E12", "1e12"), ("1e15", "1e15"), ("1E18", "1e18"),
    ("1e14", "1e14"), ("1e13", "1e13"), ("100.035k", "100035"),
    ("0.001", "0.001"), ("0.0005k", "0.5"), ("0.005", "0.005"), ("0.05", "0.05"), ("0.5", "0.5"), ("0.00050k", "0.5"),
    ("0.00500", "0.005"), ("0.05000", "0.05"), ("0.50000", "0.5"), ("0.5e0", "0.5"), ("0.5e-1", "0.05"),
    ("0.5e-2", "0.005"), ("10.035M", "10035000"), ("1.2e3", "1200"), ("1.3E+6", "1.3e6"), ("1.40e9", "1.4e9"),
    ("1.53E12", "1.53e12"), ("1.6e15", "1.6e15"), ("1.7E18", "1.7e18"), ("9.01", "9.01"), ("8.1k", "8100"),
    ("7.123456M", "7123456"), ("6.987654321G", "6987654321"), ("5.444T", "5.444e12"), ("40.1T", "4.01e13"),
    ("300.2T", "3.002e14"), ("2.5P", "2.5e15"), ("1.01E", "1.01e18"),
    # things that saturate or round (up to 1n; binary capped at 2^63-1)
    ("3.001n", "4e-9"), ("1.1E-9", "2e-9"), ("0.0000000001", "1e-9"), ("0.0000000005", "1e-9"),
    ("0.00000000050", "1e-9"), ("0.5e-9", "1e-9"), ("0.9n", "1e-9"), ("0.00000012345", "1.24e-7"),
    ("0.00000012354", "1.24e-7"), ("9Ei", str(2**63 - 1)), ("9223372036854775807Ki", str(2**63 - 1)), ("12E", "1.2e19"),
    ("100.035Ki", "102435.84"), ("0.5Mi", str(2**19)), ("0.05Gi", "53687091.2"), ("0.025Ti", "27487790694.4"),
    # "things written by trolls"
    ("0.000000000001Ki", "2e-9"), (".001", "0.001"), (".0001k", "0.1"), ("1.", "1"), ("1.G", "1e9"),
    # TestParseQuantityString: a lone "." or "-." reads as zero
    (".", "0"), ("-.", "0"),
    # TestParseQuantity: 18 to 20 digits, int64 bounds
    ("-999999999999999999", "-999999999999999999"), ("999999999999999999.1", "999999999999999999.1"),
    ("9999999999999999999", "9999999999999999999"), ("-1E", "-1e18"), ("1.0000000000000000001E", "1000000000000000000.1"),
    ("10E", "1e19"), ("-10000000000000000000000m", "-1e19"), ("9223372036854775808.1", "9223372036854775808.1"),
]
# TestQuantityParse "invalid" list (and the empty string, checked first in that test).
INVALID = ["", "1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-", " 1", "1 "]
# TestQuantityParseNonNumericPanic
INVALID += ["Non-Numeric"]
# TestJSONWhitespace: a manifest's JSON decoding trims white space before parsing.
JSON_WHITESPACE = [(" 1", "1"), ("1 ", "1"), (" -1", "-1")]
# TestQuantityParse also parses every VALID input with "-" and "+" in front.
SIGNED = [(sign + text, value) for text, value in VALID if not text.startswith(("-", "+")) for sign in "+-"]


@pytest.mark.parametrize(("text", "value"), VALID + SIGNED)
def test_upstream_valid_quantities_parse_to_the_same_value(text, value):
    expected = Decimal(value)
    if text.startswith("-") and not value.startswith("-"):
        expected = -expected
    assert parse_quantity(text, trim=False) == expected


@pytest.mark.parametrize("text", INVALID)
def test_upstream_invalid_quantities_are_refused(text):
    with pytest.raises(ValueError):
        parse_quantity(text, trim=False)


@pytest.mark.parametrize(("text", "value"), JSON_WHITESPACE)
def test_manifest_values_are_trimmed_like_unmarshal_json(text, value):
    assert parse_quantity(text) == Decimal(value)


#: Accepted disagreements: (input, upstream verdict, mlkube verdict, reason).
DISAGREEMENTS = [
    ("1e999999999", "parses (then rounding to 1n builds a number of a billion digits)", "refused",
     "mlkube refuses values of 10^64 or more with a clean error; no upstream test case reaches that range"),
]


@pytest.mark.parametrize(("text", "upstream", "ours", "reason"), DISAGREEMENTS)
def test_accepted_disagreements_are_what_they_say(text, upstream, ours, reason):
    with pytest.raises(ValueError, match="too large"):
        parse_quantity(text)


def test_agreement_is_total():
    """Every upstream case agrees; the only disagreement is outside the upstream tables."""
    cases = len(VALID) + len(SIGNED) + len(INVALID) + len(JSON_WHITESPACE)
    assert cases > 250
    assert not any(text == case for text, *_ in DISAGREEMENTS for case, _ in VALID + SIGNED)


# --- counted in the agreement table (tests/upstream/README.md) -------------------------------------

def _parses(text: str) -> bool:
    try:
        parse_quantity(text, trim=False)
    except ValueError:
        return False
    return True


def results() -> list:
    from agreement import Case, run_suite

    # The upstream table lists some inputs twice (1e3, 0.5e0), and signed forms of others: each counted once.
    unique = dict.fromkeys(text for text, _ in VALID + SIGNED)
    cases = [Case(f"valid {text!r}", text, True, f"{SOURCE}:TestQuantityParse") for text in unique]
    cases += [Case(f"invalid {text!r}", text, False, f"{SOURCE}:TestQuantityParse invalid") for text in INVALID]
    cases += [Case(f"beyond the tables {text!r}", text, True, f"{SOURCE}:ParseQuantity (quantity.go)", reason)
              for text, _, _, reason in DISAGREEMENTS]
    return [run_suite("quantity", cases, _parses)]


def test_agreement() -> None:
    for result in results():
        result.check(minimum=0.99)
        result.check_readme_row()
