"""The shared paging loops stop on loops and never yield a record twice."""

import pytest

from connectors.errors import TransientError
from connectors.paging import follow_cursor, numbered_pages


def test_cursor_pages_are_followed_to_the_end():
    pages = {None: ([1, 2], "p2"), "p2": ([3, 4], "p3"), "p3": ([5], None)}
    assert list(follow_cursor(pages.__getitem__, key=lambda x: x, what="t")) == [1, 2, 3, 4, 5]


def test_a_cursor_seen_before_is_a_loop():
    pages = {None: ([1], "a"), "a": ([2], "b"), "b": ([3], "a")}
    with pytest.raises(TransientError, match="loop detected"):
        list(follow_cursor(pages.__getitem__, key=lambda x: x, what="t"))


def test_records_repeated_across_pages_are_yielded_once():
    pages = {None: ([1, 2], "b"), "b": ([2, 3], None)}  # a record moved during paging
    assert list(follow_cursor(pages.__getitem__, key=lambda x: x, what="t")) == [1, 2, 3]


def test_numbered_pages_survive_the_last_page_repeat_quirk():
    data = list(range(1, 8))
    calls = []

    def fetch(page):
        calls.append(page)
        last = (len(data) - 1) // 3 + 1
        page = min(page, last)  # Magento repeats the last page past the end
        return data[(page - 1) * 3 : page * 3], len(data)

    assert list(numbered_pages(fetch, key=lambda x: x, what="t")) == data
    assert calls == [1, 2, 3]


def test_numbered_pages_stop_when_a_page_brings_nothing_new():
    def fetch(page):
        return [1, 2], 10  # total_count lies; the same page forever

    assert list(numbered_pages(fetch, key=lambda x: x, what="t")) == [1, 2]
