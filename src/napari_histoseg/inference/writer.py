"""A thread that blends computed batches into the result store, in order.

The model's thread hands over ``(indices, probabilities)`` and goes on with the
next batch; this thread sums the batch into regions (:func:`blend_batch`),
accumulates them into the store, and only then marks the tiles done. At most
``depth`` batches wait, so memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from napari_histoseg.inference.tiling import blend_batch, blend_weights
from napari_histoseg.io.workspace import ResultStore


class BatchWriter:
    """Writes batches in a background thread; ``completed()`` yields the written indices."""

    _END = object()

    def __init__(self, store: ResultStore, done: np.ndarray, depth: int = 2):
        grid = store.spec.grid
        self._store, self._done = store, done.copy()
        self._weights = blend_weights(grid.tile_size, grid.halo)
        self._inbox: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._outbox: queue.Queue = queue.Queue()
        self.seconds = 0.0
        self.tiles_written = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="histoseg-writer", daemon=True)
        self._thread.start()

    def submit(self, indices: np.ndarray, probabilities: np.ndarray) -> None:
        """Queue a batch; blocks while ``depth`` batches are already waiting."""
        self._inbox.put((np.asarray(indices), probabilities))

    def completed(self, final: bool = False):
        """Yield the indices of each batch written since the last call.

        With ``final``, no more batches may be submitted, and this waits until
        all are written. Raises the writer's error, if it failed.
        """
        if final:
            self._finish()
        while True:
            try:
                item = self._outbox.get(block=final)
            except queue.Empty:
                return
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Write what was submitted, then stop the thread."""
        self._finish()
        self._thread.join()

    def _finish(self) -> None:
        if not self._closed:
            self._closed = True
            self._inbox.put(self._END)

    def _run(self) -> None:
        try:
            for indices, probabilities in iter(self._inbox.get, self._END):
                start = time.perf_counter()
                self._write(indices, probabilities)
                self.seconds += time.perf_counter() - start
                self.tiles_written += len(indices)
                self._outbox.put(indices)
        except BaseException as err:  # handed to the consumer
            self._outbox.put(err)
            while self._inbox.get() is not self._END:  # unblock submit() and close()
                pass
        self._outbox.put(self._END)

    def _write(self, indices: np.ndarray, probabilities: np.ndarray) -> None:
        grid = self._store.spec.grid
        for region in blend_batch(grid, indices, probabilities, self._weights):
            self._store.accumulate(region)
        self._done.ravel()[indices] = True
        self._store.mark_done(self._done, indices)
