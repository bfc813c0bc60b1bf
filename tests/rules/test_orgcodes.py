"""Table tests of the two official codes of hall.toml (SPEC 2, 11)."""

from __future__ import annotations

import pytest

from kiosk.rules.orgcodes import (
    CREDIT_WEIGHTS,
    CodeFault,
    area_code_fault,
    area_code_problem,
    credit_check_character,
    org_code_fault,
    org_code_problem,
)


def test_the_weights_are_those_of_gb_32100() -> None:
    assert CREDIT_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",  # the worked example of GB 32100-2015
        "91110000802100433B",  # a company registered in Beijing
        "91440300708461136T",  # a company registered in Shenzhen
        "12100000400000624D",  # a public institution (事业单位)
        "11429005MB1234567K",  # the SPEC's example with its right check character
        "11429005MB12345220",  # a check value of 31 is written 0
    ],
)
def test_valid_credit_codes(code: str) -> None:
    assert org_code_problem(code) is None


def test_a_check_value_of_31_is_written_0() -> None:
    assert credit_check_character("11429005MB1234567") == "K"
    first17 = next(
        f"11429005MB12345{a}{b}"
        for a in "0123456789"
        for b in "0123456789"
        if credit_check_character(f"11429005MB12345{a}{b}") == "0"
    )
    assert org_code_problem(first17 + "0") is None


@pytest.mark.parametrize(
    "code, problem",
    [
        ("11429005MB1234567X", 'ends in "K"'),  # the SPEC's example as printed
        ("91350100M000100Y44", 'ends in "3"'),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100Y433", "18 characters"),
        ("", "18 characters"),
        ("91350100m000100Y43", "capital letters"),  # lower case
        ("91350100I000100Y43", "capital letters"),  # I is not in the alphabet
        ("91350100O000100Y43", "capital letters"),
        ("9135010SM000100Y43", "capital letters"),  # S, and a letter among the area digits
        ("91350100V000100Y43", "capital letters"),
        ("91350100Z000100Y43", "capital letters"),
        ("913501A0M000100Y43", "places 3–8"),
        ("９1350100M000100Y43", "capital letters"),  # a full-width digit
    ],
)
def test_invalid_credit_codes(code: str, problem: str) -> None:
    found = org_code_problem(code)
    assert found is not None and problem in found


@pytest.mark.parametrize("code", ["429005", "110000", "110101", "810000", "654324"])
def test_valid_area_codes(code: str) -> None:
    assert area_code_problem(code) is None


@pytest.mark.parametrize(
    "code, problem",
    [
        ("42900", "six digits"),
        ("4290050", "six digits"),
        ("42900A", "six digits"),
        ("４２９００５", "six digits"),  # full-width digits
        ("999999", '"99" is not a province-level code'),
        ("000000", '"00" is not a province-level code'),
        ("", "six digits"),
    ],
)
def test_invalid_area_codes(code: str, problem: str) -> None:
    found = area_code_problem(code)
    assert found is not None and problem in found


@pytest.mark.parametrize(
    "code, fault",
    [
        ("91350100M000100Y43", None),
        ("11429005MB1234567X", CodeFault("check", "K")),
        ("91350100M000100Y4", CodeFault("length")),
        ("91350100m000100Y43", CodeFault("alphabet")),
        ("913501A0M000100Y43", CodeFault("alphabet")),
    ],
)
def test_credit_code_faults_say_the_kind(code: str, fault: CodeFault | None) -> None:
    """The back office words its message from the kind (SPEC 10: the importer's checks)."""
    assert org_code_fault(code) == fault


@pytest.mark.parametrize(
    "code, fault",
    [
        ("429005", None),
        ("42900", CodeFault("shape")),
        ("４２９００５", CodeFault("shape")),
        ("999999", CodeFault("province", "99")),
    ],
)
def test_area_code_faults_say_the_kind(code: str, fault: CodeFault | None) -> None:
    assert area_code_fault(code) == fault
