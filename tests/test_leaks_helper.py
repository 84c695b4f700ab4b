"""The leak checks' own rule: a numeric secret counts only as a whole number."""

from __future__ import annotations

from tests.leaks import contains, leaked


def test_a_number_counts_only_as_a_whole_number() -> None:
    assert contains('{"answer": 23.53}', "23.53")
    assert contains("the result is 23.53.", "23.53")
    assert contains("x=-23.53\n", "23.53")
    assert not contains('{"duration_ms": 23.532}', "23.53")
    assert not contains('{"started_at": 1764300823.5312}', "23.53")
    assert not contains("123.53", "23.53")


def test_text_counts_anywhere() -> None:
    assert contains("SELECT count(*) FROM admissions", "count(*) FROM")
    assert leaked("a 23.53 b 14.5012", {"23.53", "14.50", "nothing"}) == ["23.53"]
