"""Statistical tests that would catch wrong shuffling.

Each check is a function that raises AssertionError when the orders are not as specified; the last tests run the
independence check on a deliberately broken reshuffle (epoch k's order is sigma^k, the bug of a library whose
"reshuffle" replays the same swaps on the previous order) to show that it fails there.
All seeds are fixed, so the outcomes are deterministic; the p-value threshold 1e-4 leaves a wide margin.
"""

import itertools

import numpy as np
import pytest
from scipy import stats

import optcore

P_MIN = 1e-4


def chi2_uniform_pvalue(counts):
    counts = np.asarray(counts, dtype=np.float64).ravel()
    expected = counts.sum() / counts.size
    statistic = np.sum((counts - expected) ** 2 / expected)
    return stats.chi2.sf(statistic, counts.size - 1)


def assert_positions_uniform(perms):
    """Every element is equally likely at every position: (n x n) position counts, chi-square."""
    perms = np.asarray(perms).reshape(-1, perms.shape[-1])
    n = perms.shape[1]
    counts = np.zeros((n, n))
    for pos in range(n):
        counts[:, pos] = np.bincount(perms[:, pos], minlength=n)
    statistic = np.sum((counts - counts.mean()) ** 2 / counts.mean())
    p = stats.chi2.sf(statistic, (n - 1) ** 2)
    assert p > P_MIN, f"positions not uniform (p = {p:.2e})"


def permutation_codes(perms):
    """Index of each permutation of 0..n-1 (last axis) among all n! permutations."""
    n = perms.shape[-1]
    lookup = {p: i for i, p in enumerate(itertools.permutations(range(n)))}
    flat = perms.reshape(-1, n)
    return np.array([lookup[tuple(row)] for row in flat.tolist()]).reshape(perms.shape[:-1])


def assert_uniform_over_permutations(perms):
    codes = permutation_codes(perms).ravel()
    n_perm = int(np.prod(np.arange(1, perms.shape[-1] + 1)))
    p = chi2_uniform_pvalue(np.bincount(codes, minlength=n_perm))
    assert p > P_MIN, f"permutations not uniform (p = {p:.2e})"


def assert_successive_epochs_independent(orders):
    """orders (R, K, n), small n: the pair (epoch k, epoch k+1) is uniform over (n!)^2, for every k."""
    codes = permutation_codes(orders)
    n_perm = int(np.prod(np.arange(1, orders.shape[-1] + 1)))
    for k in range(orders.shape[1] - 1):
        joint = np.bincount(codes[:, k] * n_perm + codes[:, k + 1], minlength=n_perm * n_perm)
        p = chi2_uniform_pvalue(joint)
        assert p > P_MIN, f"epochs {k} and {k + 1} are not independent (p = {p:.2e})"


def rr_orders(n, epochs, runs, seed=0):
    return optcore.epoch_orders("random_reshuffling", n, epochs, seed=seed, runs=runs)[:, :, 0, :]


def test_rr_positions_uniform():
    assert_positions_uniform(rr_orders(10, 4, 5000))


def test_rr_uniform_over_all_permutations():
    assert_uniform_over_permutations(rr_orders(4, 3, 20000))


def test_rr_successive_epochs_independent():
    assert_successive_epochs_independent(rr_orders(4, 4, 40000, seed=1))


def test_rr_epochs_differ_and_are_permutations():
    orders = rr_orders(50, 6, 20)
    assert np.all(np.sort(orders, axis=-1) == np.arange(50))
    assert not np.any(np.all(orders[:, 1:] == orders[:, :-1], axis=-1))


def test_single_shuffle_same_every_epoch_and_uniform_across_runs():
    orders = optcore.epoch_orders("single_shuffle", 4, 5, seed=3, runs=20000)[:, :, 0, :]
    assert np.all(orders == orders[:, :1])
    assert_uniform_over_permutations(orders[:, 0])
    # SS is the first epoch of RR with the same stream
    np.testing.assert_array_equal(orders[:, 0], rr_orders(4, 1, 20000, seed=3)[:, 0])


def test_with_replacement_uniform_and_independent():
    n = 7
    idx = optcore.epoch_orders("with_replacement", n, 4, seed=5, runs=3000)[:, :, 0, :]
    assert chi2_uniform_pvalue(np.bincount(idx.ravel(), minlength=n)) > P_MIN
    flat = idx.reshape(idx.shape[0], -1)  # consecutive draws, across epoch boundaries too
    pairs = flat[:, :-1] * n + flat[:, 1:]
    assert chi2_uniform_pvalue(np.bincount(pairs.ravel(), minlength=n * n)) > P_MIN
    # an epoch of with-replacement is not a permutation (repeats occur)
    assert np.mean([np.unique(row).size < n for row in idx.reshape(-1, n)]) > 0.9


def test_incremental_is_identity_or_base():
    np.testing.assert_array_equal(optcore.epoch_orders("ig", 6, 3)[0, :, 0], np.tile(np.arange(6), (3, 1)))
    base = np.array([3, 1, 4, 0, 5, 2])
    np.testing.assert_array_equal(optcore.epoch_orders("ig", 6, 2, base_order=base)[0, :, 0], [base, base])


@pytest.mark.parametrize("base", ["rr", "ss", "ig"])
def test_flipflop_reverses_every_other_epoch(base):
    ff = optcore.epoch_orders(f"flipflop_{base}", 9, 6, seed=2, runs=50)[:, :, 0, :]
    plain = optcore.epoch_orders({"rr": "rr", "ss": "ss", "ig": "ig"}[base], 9, 6, seed=2, runs=50)[:, :, 0, :]
    np.testing.assert_array_equal(ff[:, 0::2], plain[:, 0::2])  # even epochs: the base order of that epoch
    np.testing.assert_array_equal(ff[:, 1::2], ff[:, 0::2, ::-1])  # odd epochs: the previous epoch reversed


def test_flipflop_rr_even_epochs_independent():
    ff = optcore.epoch_orders("flipflop_rr", 4, 4, seed=8, runs=40000)[:, :, 0, :]
    assert_successive_epochs_independent(ff[:, 0::2])
    assert_positions_uniform(ff[:, 1])


def test_syncshuf_structure():
    M, N, K = 3, 6, 4
    o = optcore.epoch_orders("syncshuf", M * N, K, seed=4, runs=200, workers=M)
    for r, k in itertools.product(range(5), range(K)):
        rows = o[r, k]
        # every row is a cyclic shift of every other by a multiple of N / M
        for a, b in itertools.combinations(rows, 2):
            assert any(np.array_equal(np.roll(a, -s * (N // M)), b) for s in range(M))
        # at every position the M workers visit M different local components
        assert all(len(set(rows[:, i])) == M for i in range(N))
    assert_positions_uniform(o[:, :, 0, :])


def sigma_power_orders(n, epochs, runs, seed=0):
    """The broken reshuffle: draw sigma once, then epoch k's order is sigma^(k+1)."""
    sigma = rr_orders(n, 1, runs, seed=seed)[:, 0]
    out = np.empty((runs, epochs, n), dtype=np.int64)
    current = np.tile(np.arange(n), (runs, 1))
    for k in range(epochs):
        current = np.take_along_axis(current, sigma, axis=1)
        out[:, k] = current
    return out


def test_independence_check_catches_sigma_power_bug():
    broken = sigma_power_orders(4, 4, 40000, seed=1)
    assert_positions_uniform(broken[:, 0])  # each epoch alone can look fine ...
    with pytest.raises(AssertionError, match="not independent"):
        assert_successive_epochs_independent(broken)  # ... but successive epochs are tied together


def test_independence_check_catches_single_shuffle_posing_as_rr():
    ss = optcore.epoch_orders("ss", 4, 3, seed=1, runs=40000)[:, :, 0, :]
    with pytest.raises(AssertionError, match="not independent"):
        assert_successive_epochs_independent(ss)
