"""Result pyramids for display: chunk-cached levels that a worker thread keeps fresh.

napari reads a multiscale layer on the GUI thread whenever the layer is
refreshed. While a run writes results, refreshing straight from zarr would
decompress every chunk on screen on the GUI thread, every refresh. Here each
level is a :class:`CachedLevel`, an array-like over a chunk cache:

* napari's reads (GUI thread) are served from the cache; a chunk not cached
  yet (after a pan or zoom) is read once, as any display read is;
* after a batch of tiles is written, :meth:`ResultView.update` (called on the
  run's worker thread) re-reads only the cached chunks that the batch
  changed, so the next refresh on the GUI thread copies memory and reads
  nothing.

Plain numpy and zarr; no Qt. Axes are (y, x).

>>> view = ResultView(store, show_probability=False)           # doctest: +SKIP
>>> view.update([((0, 0), (512, 512))])   # worker: level-0 slide px (y, x), (h, w)
>>> layer.refresh()                       # GUI thread: served from the cache
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Iterable

import numpy as np

from napari_histoseg.io.blend import dequantise

#: Bytes of decoded chunks kept per level (a 4K screen of float32 probabilities).
CACHE_BYTES = 32 * 2**20

Box = tuple[tuple[float, float], tuple[float, float]]


class CachedLevel:
    """A read-only ``(h, w)`` array-like whose chunks are read once and then cached.

    Args:
        read: reads ``[rows, cols]`` of the source as a numpy array (any thread).
        shape, dtype: of the whole level.
        chunk: (h, w) of the cache's chunks (the source's chunks, ideally).
    """

    def __init__(self, read: Callable[[slice, slice], np.ndarray], shape: tuple[int, int],
                 dtype, chunk: tuple[int, int], max_bytes: int = CACHE_BYTES):
        self._read = read
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self.chunk = (int(chunk[0]), int(chunk[1]))
        chunk_bytes = self.chunk[0] * self.chunk[1] * self.dtype.itemsize
        self._max_chunks = max(4, max_bytes // max(chunk_bytes, 1))
        self._chunks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # counts refreshes, so a read that raced one is not cached

    ndim = 2

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[:, :]
        return whole if dtype is None else whole.astype(dtype)

    def __getitem__(self, key) -> np.ndarray:
        rows, cols, squeeze = _normalise(key, self.shape)
        out = self._assemble(slice(rows.start, rows.stop), slice(cols.start, cols.stop))
        out = out[::rows.step or 1, ::cols.step or 1]
        return out[squeeze] if squeeze else out

    def refresh(self, rows: slice, cols: slice) -> int:
        """Re-read the cached chunks that meet ``[rows, cols]``; how many were re-read."""
        with self._lock:
            self._generation += 1
            stale = [key for key in self._chunks if _meets(key, self.chunk, rows, cols)]
        for key in stale:
            fresh = self._read_chunk(key)
            with self._lock:
                if key in self._chunks:
                    self._chunks[key] = fresh
        return len(stale)

    def rebind(self, read: Callable[[slice, slice], np.ndarray]) -> None:
        """Read from ``read`` from now on (same shape and chunks); cached chunks are re-read."""
        self._read = read
        self.refresh(slice(0, self.shape[0]), slice(0, self.shape[1]))

    def cached_chunks(self) -> list[tuple[int, int]]:
        """(row, col) indices of the chunks held now, least recently used first."""
        with self._lock:
            return list(self._chunks)

    def warm(self, keys: Iterable[tuple[int, int]]) -> None:
        """Read the chunks ``keys`` into the cache now (from a worker thread)."""
        for key in keys:
            self._cached(key)

    def warm_region(self, rows: slice, cols: slice) -> int:
        """Read the chunks under ``[rows, cols]`` (this level's px) now; how many there are."""
        (ch, cw) = self.chunk
        keys = [(cy, cx) for cy in range(rows.start // ch, -(-rows.stop // ch))
                for cx in range(cols.start // cw, -(-cols.stop // cw))]
        self.warm(keys)
        return len(keys)

    def _assemble(self, rows: slice, cols: slice) -> np.ndarray:
        out = np.empty((rows.stop - rows.start, cols.stop - cols.start), self.dtype)
        if out.size == 0:
            return out
        ch, cw = self.chunk
        for cy in range(rows.start // ch, (rows.stop - 1) // ch + 1):
            for cx in range(cols.start // cw, (cols.stop - 1) // cw + 1):
                block = self._cached((cy, cx))
                y0, x0 = cy * ch, cx * cw
                top, left = max(rows.start, y0), max(cols.start, x0)
                bottom, right = min(rows.stop, y0 + ch), min(cols.stop, x0 + cw)
                out[top - rows.start:bottom - rows.start, left - cols.start:right - cols.start] = (
                    block[top - y0:bottom - y0, left - x0:right - x0])
        return out

    def _cached(self, key: tuple[int, int]) -> np.ndarray:
        with self._lock:
            block = self._chunks.get(key)
            if block is not None:
                self._chunks.move_to_end(key)
                return block
            generation = self._generation
        block = self._read_chunk(key)
        with self._lock:
            if generation != self._generation:
                return block  # results changed while reading: maybe stale, do not keep it
            self._chunks[key] = block
            while len(self._chunks) > self._max_chunks:
                self._chunks.popitem(last=False)
        return block

    def _read_chunk(self, key: tuple[int, int]) -> np.ndarray:
        (cy, cx), (ch, cw) = key, self.chunk
        rows = slice(cy * ch, min((cy + 1) * ch, self.shape[0]))
        cols = slice(cx * cw, min((cx + 1) * cw, self.shape[1]))
        return np.asarray(self._read(rows, cols), dtype=self.dtype)


class ResultView:
    """The display levels of one result store: mask, and tumour probability if wanted.

    ``mask_levels`` hold the label mask; ``probability_levels`` (or None) the
    probability of every non-background class together, in 0-1.
    """

    def __init__(self, store, show_probability: bool, max_bytes: int = CACHE_BYTES):
        self.store = store
        self.mask_levels = [_cached_zarr(level, lambda block: block, max_bytes)
                            for level in store.mask_levels()]
        self.probability_levels = None
        if show_probability:
            self.probability_levels = [
                _cached_zarr(level, _tumour_probability, max_bytes, leading=True)
                for level in store.probability_levels()]

    def layout(self) -> list[tuple]:
        """Shapes and chunks of every level (two views with equal layouts can share layers)."""
        levels = self.mask_levels + (self.probability_levels or [])
        return [(level.shape, level.chunk) for level in levels] + [self.probability_levels is None]

    def reuse_for(self, store, show_probability: bool) -> bool:
        """Show ``store`` (a later run's) with these same levels, if the layouts match.

        The levels keep their identity, so layers showing them need no new data;
        every cached chunk is re-read from ``store`` now (call from a worker thread).
        Returns False, changing nothing, when the layouts differ.
        """
        fresh = ResultView(store, show_probability, max_bytes=0)
        if fresh.layout() != self.layout():
            return False
        self.store = store
        for mine, theirs in zip(self.mask_levels + (self.probability_levels or []),
                                fresh.mask_levels + (fresh.probability_levels or [])):
            mine.rebind(theirs._read)
        return True

    def warm_from(self, earlier: ResultView | None) -> None:
        """Read now the chunks ``earlier`` (an earlier run's view) held, where levels match.

        Call it from a worker thread, so the layers' first draw of this view reads nothing.
        """
        if earlier is None:
            return
        pairs = list(zip(self.mask_levels, earlier.mask_levels))
        pairs += list(zip(self.probability_levels or [], earlier.probability_levels or []))
        for new, old in pairs:
            if (new.shape, new.chunk) == (old.shape, old.chunk):
                new.warm(old.cached_chunks())

    def update(self, boxes: Iterable[Box]) -> int:
        """Re-read cached chunks under tile ``boxes`` (cores, level-0 slide px); chunks re-read.

        Call it from a worker thread after the tiles in ``boxes`` were written. A
        tile's blend also changes its halo (neighbours' pixels), so each box is
        widened by the grid's halo.
        """
        grid = self.store.spec.grid
        margin = grid.halo * grid.downsample
        count = 0
        for (y, x), (h, w) in boxes:
            box = ((y - margin, x - margin), (h + 2 * margin, w + 2 * margin))
            for level, rows, cols in self._level_ranges(box):
                count += level.refresh(rows, cols)
        return count

    def warm_box(self, box: Box, max_px: int) -> int:
        """Read now the chunks under ``box`` (level-0 slide px) at every level where it
        covers at most ``max_px`` pixels, and all of each coarsest level.

        napari's first draw of a new layer reads the on-screen part of one level
        (the one whose pixels are about the screen's) and the whole coarsest
        level (the layer-list thumbnail). Called from a worker thread before the
        layers are added, it leaves that draw nothing to read. Returns the chunks covered.
        """
        count = 0
        for pyramid in (self.mask_levels, self.probability_levels or []):
            if pyramid:
                whole = (slice(0, pyramid[-1].shape[0]), slice(0, pyramid[-1].shape[1]))
                count += pyramid[-1].warm_region(*whole)
        for level, rows, cols in self._level_ranges(box):
            if (rows.stop - rows.start) * (cols.stop - cols.start) <= max_px:
                count += level.warm_region(rows, cols)
        return count

    def _level_ranges(self, box: Box):
        """(level, rows, cols) of ``box`` (level-0 slide px) at every level, clipped to it."""
        (y, x), (h, w) = box
        grid_downsample = self.store.spec.grid.downsample
        for pyramid in (self.mask_levels, self.probability_levels or []):
            for index, level in enumerate(pyramid):
                factor = grid_downsample * 2**index
                rows = slice(max(int(y // factor), 0),
                             min(int(-(-(y + h) // factor)), level.shape[0]))
                cols = slice(max(int(x // factor), 0),
                             min(int(-(-(x + w) // factor)), level.shape[1]))
                if rows.stop > rows.start and cols.stop > cols.start:
                    yield level, rows, cols


def _cached_zarr(array, transform, max_bytes: int, leading: bool = False) -> CachedLevel:
    """A CachedLevel over a zarr level; ``leading`` levels are (classes, h, w)."""
    shape, chunks = array.shape[-2:], array.chunks[-2:]
    if leading:
        def read(rows, cols):
            return transform(array[:, rows, cols])
        dtype = np.float32
    else:
        def read(rows, cols):
            return transform(array[rows, cols])
        dtype = array.dtype
    return CachedLevel(read, shape, dtype, chunks, max_bytes)


def _tumour_probability(block: np.ndarray) -> np.ndarray:
    """(classes, h, w) stored probabilities -> (h, w) float32 probability of any
    non-background class, NaN where not computed."""
    return 1 - dequantise(block[0])


def _meets(key: tuple[int, int], chunk: tuple[int, int], rows: slice, cols: slice) -> bool:
    (cy, cx), (ch, cw) = key, chunk
    return (cy * ch < rows.stop and rows.start < (cy + 1) * ch
            and cx * cw < cols.stop and cols.start < (cx + 1) * cw)


def _normalise(key, shape: tuple[int, int]) -> tuple[slice, slice, tuple]:
    """``key`` as (rows, cols) slices clipped to ``shape``, and an index that drops int axes."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:at] + (slice(None),) * (2 - len(key) + 1) + key[at + 1:]
    key = key + (slice(None),) * (2 - len(key))
    if len(key) != 2:
        raise IndexError(f"too many indices for a 2-D level: {key!r}")
    slices, squeeze = [], []
    for k, length in zip(key, shape):
        if isinstance(k, (int, np.integer)):
            k = int(k) + length if k < 0 else int(k)
            if not 0 <= k < length:
                raise IndexError(f"index {k} is out of bounds for size {length}")
            slices.append(slice(k, k + 1, 1))
            squeeze.append(0)
        elif isinstance(k, slice):
            start, stop, step = k.indices(length)
            if step < 1:
                raise IndexError("only positive steps are supported")
            slices.append(slice(start, max(start, stop), step))
            squeeze.append(slice(None))
        else:
            raise IndexError(f"unsupported index {k!r}: use ints and slices")
    drop = tuple(squeeze) if 0 in squeeze else ()
    return slices[0], slices[1], drop
