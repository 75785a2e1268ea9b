"""Paging loops written once: they yield lazily and can neither loop forever nor repeat records.

A connector says how to fetch one page; these loops follow the cursor, refuse a cursor they have
already seen ("loop detected"), and drop records whose key was already yielded.
"""

from collections.abc import Callable, Hashable, Iterator
from typing import TypeVar

from connectors.errors import TransientError

Item = TypeVar("Item")
Cursor = TypeVar("Cursor", bound=Hashable)


def follow_cursor(
    fetch_page: Callable[[Cursor | None], tuple[list[Item], Cursor | None]],
    *,
    key: Callable[[Item], Hashable],
    what: str,
) -> Iterator[Item]:
    """Pages linked by a next-page cursor (Kashflow NextPageUrl, Salesforce nextRecordsUrl)."""
    seen_cursors: set = set()
    seen_keys: set = set()
    cursor = None
    while True:
        items, next_cursor = fetch_page(cursor)
        for item in items:
            item_key = key(item)
            if item_key not in seen_keys:
                seen_keys.add(item_key)
                yield item
        if not next_cursor:
            return
        if next_cursor in seen_cursors or next_cursor == cursor:
            raise TransientError(f"{what}: paging loop detected at {next_cursor!r}")
        seen_cursors.add(next_cursor)
        cursor = next_cursor


def numbered_pages(
    fetch_page: Callable[[int], tuple[list[Item], int]],
    *,
    key: Callable[[Item], Hashable],
    what: str,
    max_pages: int = 100_000,
) -> Iterator[Item]:
    """Pages by number with a total count (Magento searchCriteria).

    Magento answers a page past the end with the last page again; the loop stops once it has
    seen total_count distinct records, or a page brings nothing new.
    """
    seen_keys: set = set()
    for page in range(1, max_pages + 1):
        items, total_count = fetch_page(page)
        new = [item for item in items if key(item) not in seen_keys]
        for item in new:
            seen_keys.add(key(item))
            yield item
        if not new or len(seen_keys) >= total_count:
            return
    raise TransientError(f"{what}: more than {max_pages} pages; refusing to go on")
