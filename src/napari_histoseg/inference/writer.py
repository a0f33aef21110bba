"""A thread that stores computed batches in the result store, in order.

The model's thread hands over ``(indices, predictions)`` (uint8 softmax x 255)
and goes on with the next batch. This thread saves each tile's prediction at
once and publishes (blends the blocks they reach, rebuilds the overviews,
records the tiles as done; see :mod:`napari_histoseg.io.result_update`) every
``publish_tiles`` tiles or ``publish_s`` seconds, and at the end. Publishing
in groups writes each block about once however the tiles arrive. At most
``depth`` batches wait, so memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from napari_histoseg.io.atomic import full_disk_reported
from napari_histoseg.io.result_update import ResultUpdater
from napari_histoseg.io.results import ResultStore


class BatchWriter:
    """Writes batches in a background thread; ``completed()`` yields the published indices."""

    _END = object()

    def __init__(self, store: ResultStore, depth: int = 2, publish_tiles: int = 64,
                 publish_s: float = 2.0):
        self._updater = ResultUpdater(store)
        self._store_path = store.path
        self._publish_tiles, self._publish_s = publish_tiles, publish_s
        self._inbox: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._outbox: queue.Queue = queue.Queue()
        self.seconds = 0.0
        self.tiles_written = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="histoseg-writer", daemon=True)
        self._thread.start()

    def submit(self, indices: np.ndarray, predictions: np.ndarray) -> None:
        """Queue a batch; blocks while ``depth`` batches are already waiting."""
        self._inbox.put((np.asarray(indices), predictions))

    def completed(self, final: bool = False):
        """Yield the indices of each group of tiles published since the last call.

        With ``final``, no more batches may be submitted, and this waits until
        all are published. Raises the writer's error, if it failed.
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
        """Write and publish what was submitted, then stop the thread."""
        self._finish()
        self._thread.join()

    def _finish(self) -> None:
        if not self._closed:
            self._closed = True
            self._inbox.put(self._END)

    def _run(self) -> None:
        try:
            with full_disk_reported(self._store_path):
                self._write_all()
        except BaseException as err:  # handed to the consumer
            self._outbox.put(err)
            while self._inbox.get() is not self._END:  # unblock submit() and close()
                pass
        self._outbox.put(self._END)

    def _write_all(self) -> None:
        """Save each submitted batch; publish in groups (``publish_tiles`` or ``publish_s``)."""
        pending: list[np.ndarray] = []
        last = time.monotonic()
        for indices, predictions in iter(self._inbox.get, self._END):
            start = time.perf_counter()
            self._updater.save_tiles(indices, predictions)
            pending.append(indices)
            if (sum(map(len, pending)) >= self._publish_tiles
                    or time.monotonic() - last >= self._publish_s):
                self._publish(pending)
                pending, last = [], time.monotonic()
            self.seconds += time.perf_counter() - start
        start = time.perf_counter()
        self._publish(pending)
        self.seconds += time.perf_counter() - start

    def _publish(self, pending: list[np.ndarray]) -> None:
        if not pending:
            return
        indices = np.concatenate(pending)
        self._updater.publish(indices)
        self.tiles_written += len(indices)
        self._outbox.put(indices)
