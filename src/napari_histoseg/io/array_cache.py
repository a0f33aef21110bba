"""A bounded least-recently-used cache of numpy arrays, by key."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np


class ArrayCache:
    """Least-recently-used arrays by key, at most ``max_bytes`` in all (one array always fits)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[object, np.ndarray] = OrderedDict()

    def get(self, key: object) -> np.ndarray | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: object, array: np.ndarray) -> None:
        old = self._items.pop(key, None)
        self._bytes += array.nbytes - (old.nbytes if old is not None else 0)
        self._items[key] = array
        while self._bytes > self.max_bytes and len(self._items) > 1:
            self._bytes -= self._items.popitem(last=False)[1].nbytes
