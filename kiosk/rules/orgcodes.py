"""The two official codes a hall names for the provincial push (SPEC 2, 11), checked.

* 行政区划代码 (GB/T 2260): six digits, the first two a province-level code.
* 统一社会信用代码 (GB 32100-2015): 18 characters of the code's own alphabet (digits and
  capital letters without I, O, S, V, Z): registration authority, organisation kind, the
  six-digit area code, the nine-character organisation code, and a check character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Province-level codes of GB/T 2260 (the first two digits of any 行政区划代码).
PROVINCE_PREFIXES = frozenset(
    {
        *("11", "12", "13", "14", "15"),
        *("21", "22", "23"),
        *("31", "32", "33", "34", "35", "36", "37"),
        *("41", "42", "43", "44", "45", "46"),
        *("50", "51", "52", "53", "54"),
        *("61", "62", "63", "64", "65"),
        *("71", "81", "82"),
    }
)

# GB 32100 alphabet: the value of a character is its place here (I, O, S, V, Z are unused).
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Weight of position i (0-based) is 3^i mod 31.
CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_CREDIT_SHAPE = re.compile(rf"[{CREDIT_ALPHABET}]{{2}}[0-9]{{6}}[{CREDIT_ALPHABET}]{{10}}")


@dataclass(frozen=True, slots=True)
class CodeFault:
    """Why a text is not one of the two codes, for a message in any language.

    ``kind`` is ``"shape"`` (not six ASCII digits), ``"province"`` (an unknown
    province-level prefix, in ``detail``), ``"length"`` (not 18 characters), ``"alphabet"``
    (a character outside GB 32100's, or no area code at places 3–8) or ``"check"`` (the
    18th character is wrong; the right one is in ``detail``).
    """

    kind: str
    detail: str = ""


def area_code_fault(value: str) -> CodeFault | None:
    """Why ``value`` is not a 行政区划代码, or None when it is one."""
    if not re.fullmatch(r"[0-9]{6}", value):  # ASCII only: \d would take ４
        return CodeFault("shape")
    if value[:2] not in PROVINCE_PREFIXES:
        return CodeFault("province", value[:2])
    return None


def area_code_problem(value: str) -> str | None:
    """Why ``value`` is not a 行政区划代码 (in the words of the hall-file importer), or None."""
    fault = area_code_fault(value)
    if fault is None:
        return None
    if fault.kind == "shape":
        return "expected six digits (行政区划代码, e.g. 429005)"
    return f'"{fault.detail}" is not a province-level code of GB/T 2260'


def credit_check_character(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 whose first 17 characters are given."""
    total = sum(
        CREDIT_ALPHABET.index(ch) * w for ch, w in zip(first17, CREDIT_WEIGHTS, strict=True)
    )
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def org_code_fault(value: str) -> CodeFault | None:
    """Why ``value`` is not a 统一社会信用代码, or None when it is one."""
    if len(value) != 18:
        return CodeFault("length")
    if not _CREDIT_SHAPE.fullmatch(value):
        return CodeFault("alphabet")
    expected = credit_check_character(value[:17])
    if value[17] != expected:
        return CodeFault("check", expected)
    return None


def org_code_problem(value: str) -> str | None:
    """Why ``value`` is not a 统一社会信用代码 (in the words of the importer), or None."""
    fault = org_code_fault(value)
    if fault is None:
        return None
    if fault.kind == "length":
        return "expected 18 characters (统一社会信用代码)"
    if fault.kind == "alphabet":
        return (
            "expected digits and capital letters other than I, O, S, V, Z, "
            "with six digits (the area code) at places 3–8"
        )
    return f'the check character is wrong: a code starting "{value[:17]}" ends in "{fault.detail}"'
