"""Philox4x32-10 and the word streams: known answers, and the NumPy reference against the C++ core bit for bit."""

import numpy as np
import pytest

import optcore
from optcore import _core, reference

# Random123's published known-answer vectors for Philox4x32-10.
KATS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KATS)
def test_philox_known_answers(counter, key, expected):
    assert tuple(_core.philox4x32_10(counter, key)) == expected
    out = reference.philox4x32_10(np.array(counter).reshape(4, 1), key)
    assert tuple(int(v) for v in out[:, 0]) == expected


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, 2**32, 2**63 + 12345, 2**64 - 1])
@pytest.mark.parametrize("purpose", [0, 1, 2, 3])
def test_stream_words_match_reference(seed, purpose):
    for run, epoch, worker in [(0, 0, 0), (5, 3, 1), (2**32 - 1, 2**32 - 1, 2**24 - 1)]:
        c = _core.stream_words(seed, run, epoch, worker, purpose, 1000)
        r = reference.Stream(seed, run, epoch, worker, purpose).words(1000)
        np.testing.assert_array_equal(c, r)


@pytest.mark.parametrize("bound", [1, 2, 3, 7, 1000, 2**31 + 1, 3 * 2**30, 2**32 - 1])
def test_bounded_draws_match_reference(bound):
    # bounds near 2^32 reject about a quarter of the words: the rejection path is exercised many times
    c = _core.stream_bounded(99, 1, 2, 0, 1, bound, 5000)
    r = reference.Stream(99, 1, 2, 0, 1).bounded(np.full(5000, bound))
    np.testing.assert_array_equal(c, r)
    assert c.max() < bound


def test_bounded_rejects_exactly_the_biased_words():
    # Lemire's threshold (2^32 - s) mod s: with s = 3 * 2^30, 2^30 of the 2^32 words are rejected
    s = 3 * 2**30
    words = _core.stream_words(5, 0, 0, 0, 1, 20000).astype(np.uint64)
    low = (words * np.uint64(s)) & np.uint64(0xFFFFFFFF)
    rejected = low < np.uint64((2**32 - s) % s)
    assert 0.2 < rejected.mean() < 0.3
    draws = _core.stream_bounded(5, 0, 0, 0, 1, s, 1000)
    expected = ((words[~rejected] * np.uint64(s)) >> np.uint64(32))[:1000]
    np.testing.assert_array_equal(draws, expected)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 257])
@pytest.mark.parametrize("order", sorted(optcore.orders.ORDER_CODES.keys() - {"explicit", "syncshuf"}))
def test_orders_match_reference_small(order, n):
    for seed in (0, 12345, 2**64 - 1):
        c = optcore.epoch_orders(order, n, 5, seed=seed, runs=3, run_ids=[0, 7, 2**32 - 1])
        r = optcore.epoch_orders(order, n, 5, seed=seed, runs=3, run_ids=[0, 7, 2**32 - 1], backend="numpy")
        np.testing.assert_array_equal(c, r)


@pytest.mark.parametrize("workers", [2, 3, 4])
@pytest.mark.parametrize("order", ["random_reshuffling", "with_replacement", "syncshuf", "flipflop_ss"])
def test_orders_match_reference_workers(order, workers):
    n = workers * 12
    c = optcore.epoch_orders(order, n, 4, seed=11, runs=2, workers=workers)
    r = optcore.epoch_orders(order, n, 4, seed=11, runs=2, workers=workers, backend="numpy")
    np.testing.assert_array_equal(c, r)


@pytest.mark.parametrize("order", ["random_reshuffling", "with_replacement"])
def test_orders_match_reference_large_n(order):
    n = 1_000_003
    c = optcore.epoch_orders(order, n, 1, seed=2024, run_ids=[3])
    r = optcore.epoch_orders(order, n, 1, seed=2024, run_ids=[3], backend="numpy")
    np.testing.assert_array_equal(c, r)
    if order == "random_reshuffling":
        assert np.array_equal(np.sort(c[0, 0, 0]), np.arange(n))


def test_many_seeds_runs_epochs():
    rng = np.random.default_rng(0)
    for _ in range(40):
        seed = int(rng.integers(0, 2**64, dtype=np.uint64))
        n = int(rng.integers(1, 300))
        ids = rng.integers(0, 2**32, 2)
        order = ["rr", "ss", "wr", "flipflop"][_ % 4]
        c = optcore.epoch_orders(order, n, 3, seed=seed, runs=2, run_ids=ids)
        r = optcore.epoch_orders(order, n, 3, seed=seed, runs=2, run_ids=ids, backend="numpy")
        np.testing.assert_array_equal(c, r)


def test_generator_and_sequence_seeds():
    a = optcore.epoch_orders("rr", 20, 2, seed=np.random.default_rng(5), runs=2)
    b = optcore.epoch_orders("rr", 20, 2, seed=np.random.default_rng(5), runs=2)
    np.testing.assert_array_equal(a, b)
    per_run = optcore.epoch_orders("rr", 20, 2, seed=[4, 9], runs=2)
    np.testing.assert_array_equal(per_run[1], optcore.epoch_orders("rr", 20, 2, seed=9, run_ids=[1])[0])
