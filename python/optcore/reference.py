"""Pure-NumPy reference implementation of optcore's randomness and orders (the spec in docs/randomness.md).

Nothing here calls the compiled core. The tests check that these functions reproduce the C++ streams bit for bit;
users can use them to audit the engine, or to regenerate an order on a machine without the extension.

Summary of the spec
-------------------
* Philox4x32-10 with key ``(seed mod 2**32, seed >> 32)``.
* The stream named ``(seed, run, epoch, worker, purpose)`` is the sequence of words
  ``philox(counter=(b, run, epoch, worker | purpose << 24), key)[0..3]`` for ``b = 0, 1, 2, ...``.
* ``bounded(s)``: Lemire's method. Draw a word ``w``; ``m = w * s`` (64-bit); if ``m mod 2**32 < (2**32 - s) mod s``
  reject and draw again; else return ``m >> 32``.
* A random permutation of ``n``: start from ``0..n-1``; for ``i = n-1`` down to ``1`` swap entries ``i`` and
  ``bounded(i + 1)`` (Fisher-Yates).
* Orders (per worker ``m`` of ``M``, each with ``N`` local components; epoch ``k``):

  - with replacement: ``count`` draws of ``bounded(N)`` from stream ``(seed, run, k, m, 1)``;
  - random reshuffling: the permutation of stream ``(seed, run, k, m, 0)``;
  - single shuffle: the permutation of stream ``(seed, run, 0, m, 0)`` in every epoch;
  - incremental: the base order (identity unless given);
  - flipflop_X: on even epochs order X of that epoch; on odd epochs order X of the previous epoch, reversed;
  - syncshuf: ``sigma`` = permutation of N from ``(seed, run, k, 0, 2)``, ``pi`` = permutation of M from
    ``(seed, run, k, 0, 3)``; worker m visits ``sigma[(i + (N/M) pi[m]) mod N]`` for ``i = 0..N-1``;
  - explicit: the user's indices.
"""

from __future__ import annotations

import numpy as np

from ._validation import MAX_EPOCHS, MAX_WORKERS, WHY_WORKERS, integer

_MASK = np.uint64(0xFFFFFFFF)
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_32 = np.uint64(32)

PURPOSE_PERMUTATION, PURPOSE_WITH_REPLACEMENT, PURPOSE_SYNC_SIGMA, PURPOSE_SYNC_PI = 0, 1, 2, 3


def philox4x32_10(counter, key):
    """Philox4x32-10 of counters ``(4, ...)`` (array-like of uint32 values) under ``key = (k0, k1)``.

    Returns a uint32 array of the same shape as ``counter``.
    """
    c = np.asarray(counter, dtype=np.uint64)
    c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = (p1 >> _32) ^ c1 ^ k0, p1 & _MASK, (p0 >> _32) ^ c3 ^ k1, p0 & _MASK
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return np.stack([c0, c1, c2, c3]).astype(np.uint32)


class Stream:
    """The word stream ``(seed, run, epoch, worker, purpose)``, generated in vectorized chunks."""

    def __init__(self, seed: int, run: int, epoch: int, worker: int, purpose: int):
        # each number must fit its field, or it would spill into the next one and alias another stream
        seed = integer(seed, "seed", minimum=0, maximum=2**64 - 1)
        run = integer(run, "run", minimum=0, maximum=2**32 - 1)
        epoch = integer(epoch, "epoch", minimum=0, maximum=MAX_EPOCHS)
        worker = integer(worker, "worker", minimum=0, maximum=MAX_WORKERS - 1, why=WHY_WORKERS)
        purpose = integer(purpose, "purpose", minimum=0, maximum=255)
        self._key = (seed & 0xFFFFFFFF, seed >> 32)
        self._fixed = (run, epoch, worker | (purpose << 24))
        self._words = np.empty(0, dtype=np.uint32)
        self._pos = 0

    def _ensure(self, count: int) -> None:
        have = self._words.size
        if have >= count:
            return
        blocks = np.arange(have // 4, (max(count, 2 * have) + 3) // 4, dtype=np.uint64)
        fixed = [np.full_like(blocks, v) for v in self._fixed]
        new = philox4x32_10([blocks, *fixed], self._key).T.reshape(-1)
        self._words = np.concatenate([self._words, new])

    def words(self, count: int) -> np.ndarray:
        """The next ``count`` words."""
        self._ensure(self._pos + count)
        out = self._words[self._pos : self._pos + count].copy()
        self._pos += count
        return out

    def bounded(self, bounds) -> np.ndarray:
        """One uniform integer in ``[0, bounds[j])`` for each ``j``, in order (Lemire with rejection)."""
        bounds = np.asarray(bounds, dtype=np.uint64)
        out = np.empty(bounds.size, dtype=np.uint64)
        thresholds = ((np.uint64(2**32) - bounds) % bounds) if bounds.size else bounds
        i = 0
        while i < bounds.size:
            need = bounds.size - i
            self._ensure(self._pos + need)
            m = self._words[self._pos : self._pos + need].astype(np.uint64) * bounds[i:]
            rejected = (m & _MASK) < thresholds[i:]
            first = int(np.argmax(rejected)) if rejected.any() else need
            out[i : i + first] = m[:first] >> _32
            i += first
            self._pos += first
            if first < need:  # word rejected: redraw for this single draw, one word at a time
                self._pos += 1
                while True:
                    self._ensure(self._pos + 1)
                    mm = np.uint64(self._words[self._pos]) * bounds[i]
                    self._pos += 1
                    if (mm & _MASK) >= thresholds[i]:
                        out[i] = mm >> _32
                        break
                i += 1
        return out


def random_permutation(seed: int, run: int, epoch: int, worker: int, purpose: int, n: int) -> np.ndarray:
    """Fisher-Yates permutation of ``0..n-1`` from one stream."""
    perm = list(range(n))
    if n > 1:
        js = Stream(seed, run, epoch, worker, purpose).bounded(np.arange(n, 1, -1)).tolist()
        for i, j in zip(range(n - 1, 0, -1), js, strict=True):
            perm[i], perm[j] = perm[j], perm[i]
    return np.asarray(perm, dtype=np.int64)


def epoch_order(
    kind: str,
    *,
    seed: int,
    run: int,
    epoch: int,
    workers: int,
    per_worker: int,
    count: int | None = None,
    base_order=None,
    explicit=None,
) -> np.ndarray:
    """The (workers, count) local indices of one run and epoch, for order ``kind`` (a canonical name).

    ``explicit`` is this run's and epoch's (workers, per_worker) array for ``kind == "explicit"``.
    """
    n, M = per_worker, workers
    count = n if count is None else count
    base = np.arange(n, dtype=np.int64) if base_order is None else np.asarray(base_order, dtype=np.int64)

    def plain(name: str, k: int, m: int) -> np.ndarray:
        if name == "random_reshuffling":
            return random_permutation(seed, run, k, m, PURPOSE_PERMUTATION, n)
        if name == "single_shuffle":
            return random_permutation(seed, run, 0, m, PURPOSE_PERMUTATION, n)
        return base.copy()

    rows = []
    if kind == "with_replacement":
        for m in range(M):
            stream = Stream(seed, run, epoch, m, PURPOSE_WITH_REPLACEMENT)
            rows.append(stream.bounded(np.full(count, n)).astype(np.int64))
    elif kind in ("random_reshuffling", "single_shuffle", "incremental"):
        rows = [plain(kind, epoch, m)[:count] for m in range(M)]
    elif kind.startswith("flipflop_"):
        base_kind = {"rr": "random_reshuffling", "ss": "single_shuffle", "ig": "incremental"}[kind[-2:]]
        for m in range(M):
            row = plain(base_kind, epoch - epoch % 2, m)
            rows.append((row[::-1] if epoch % 2 else row)[:count])
    elif kind == "syncshuf":
        sigma = random_permutation(seed, run, epoch, 0, PURPOSE_SYNC_SIGMA, n)
        pi = random_permutation(seed, run, epoch, 0, PURPOSE_SYNC_PI, M)
        i = np.arange(count)
        rows = [sigma[(i + (n // M) * pi[m]) % n] for m in range(M)]
    elif kind == "explicit":
        rows = [np.asarray(explicit, dtype=np.int64)[m, :count] for m in range(M)]
    else:
        raise ValueError(f"unknown order kind {kind!r}")
    return np.stack(rows).astype(np.int64)
