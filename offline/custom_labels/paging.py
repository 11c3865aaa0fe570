"""Pagination tokens the service issued, so a token it did not issue can be refused."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from offline.custom_labels.errors import bad_token

T = TypeVar("T")
_MAX_TOKENS = 10_000  # oldest tokens are forgotten past this many


class TokenBook:
    """Opaque tokens mapped to (operation, resource, filters, position)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, tuple[Hashable, int]] = OrderedDict()

    def issue(self, key: Hashable, position: int) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = (key, position)
            while len(self._tokens) > _MAX_TOKENS:
                self._tokens.popitem(last=False)
        return token

    def position(self, key: Hashable, token: str | None) -> int:
        """Where a page starts: 0 without a token (or an empty one, as AWS's own Python sample sends on its
        first call); InvalidPaginationTokenException for a token this service did not issue."""
        if not token:
            return 0
        with self._lock:
            found = self._tokens.get(token)
        if found is None or found[0] != key:
            raise bad_token()
        return found[1]


def take_page(items: Sequence[T], start: int, limit: int, keep: Callable[[T], bool]) -> tuple[list[T], int | None]:
    """Up to `limit` kept items from `start`, and where the next kept item is (None when none is left)."""
    page: list[T] = []
    for index in range(start, len(items)):
        if keep(items[index]):
            if len(page) == limit:
                return page, index
            page.append(items[index])
    return page, None
