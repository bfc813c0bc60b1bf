"""Rating ids: readable, uniformly random in their tail, never repeated across a fork."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter

import pytest

from kiosk.services import ratings

DAY = dt.date(2026, 12, 1)


def test_the_id_is_hall_date_and_six_characters_of_the_alphabet() -> None:
    for _ in range(2000):
        rating_id = ratings.new_rating_id("QJ", DAY)
        assert re.fullmatch(r"QJ-20261201-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}", rating_id)


def test_every_character_of_the_alphabet_comes_about_as_often() -> None:
    firsts = Counter(ratings.new_rating_id("QJ", DAY)[-6] for _ in range(20000))
    assert set(firsts) == set(ratings._ID_ALPHABET)
    # Each near its share (a loose bound: 20,000 draws over 31 characters).
    assert max(firsts.values()) / min(firsts.values()) < 1.5


@pytest.mark.parametrize("limit", [2, 31, 1000, 31**6])
def test_random_below_stays_below_and_covers_the_range(limit: int) -> None:
    draws = [ratings._random_below(limit) for _ in range(20000)]
    assert all(0 <= d < limit for d in draws)
    if limit <= 31:
        counts = Counter(draws)
        assert set(counts) == set(range(limit))
        # Each value near its share (a loose bound: 20,000 draws).
        assert max(counts.values()) / min(counts.values()) < 1.5
    elif limit == 1000:
        assert len(set(draws)) == limit  # 20 draws a value: missing one is a 1 in 500,000
    else:
        assert len(set(draws)) > 19000  # no short cycle through the buffer


def test_ids_do_not_repeat_across_buffer_refills() -> None:
    ids = [ratings.new_rating_id("QJ", DAY) for _ in range(20000)]  # 20 refills of 4 KB
    assert len(set(ids)) > len(ids) - 5  # 31**6 ids: a repeat or two is chance, not a cycle


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    ratings.new_rating_id("QJ", DAY)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(reader)
        os.write(writer, " ".join(ratings.new_rating_id("QJ", DAY) for _ in range(8)).encode())
        os._exit(0)
    os.close(writer)
    parent = [ratings.new_rating_id("QJ", DAY) for _ in range(8)]
    with os.fdopen(reader) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    assert child != parent
