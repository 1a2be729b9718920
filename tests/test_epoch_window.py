"""``optcore.epoch_orders(..., first_epoch=k)``: one window of epochs, the same bits as that slice of the full array."""

import numpy as np
import pytest

import optcore

CASES = [
    ("with_replacement", {}),
    ("random_reshuffling", {}),
    ("single_shuffle", {}),
    ("incremental", {"base_order": [3, 1, 0, 5, 4, 2]}),
    ("flipflop_rr", {}),
    ("flipflop_ss", {}),
    ("flipflop_ig", {"base_order": [3, 1, 0, 5, 4, 2]}),
    ("syncshuf", {"workers": 3}),
]


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize(("order", "extra"), CASES, ids=[c[0] for c in CASES])
def test_window_equals_slice(order, extra, backend):
    workers = extra.get("workers", 1)
    n = 6 * workers
    kwargs = {k: v for k, v in extra.items() if k != "workers"}
    args = dict(seed=np.array([11, 2**63 + 1], dtype=np.uint64), runs=2, run_ids=[4, 77], workers=workers, **kwargs)
    full = optcore.epoch_orders(order, n, 6, backend="cpp", **args)
    for first in range(6):
        for width in range(1, 6 - first + 1):
            window = optcore.epoch_orders(order, n, width, first_epoch=first, backend=backend, **args)
            np.testing.assert_array_equal(window, full[:, first : first + width])


def test_explicit_windows_are_the_given_orders():
    orders = np.random.default_rng(0).integers(0, 5, size=(3, 5))
    out = optcore.epoch_orders("explicit", 5, 3, orders=orders, first_epoch=9)
    np.testing.assert_array_equal(out[0, :, 0], orders)


def test_a_late_epoch_alone():
    # epoch 2**32 - 1 is the last one a 32-bit epoch counter names
    late = optcore.epoch_orders("rr", 50, 1, seed=3, first_epoch=2**32 - 1)
    reference = optcore.epoch_orders("rr", 50, 1, seed=3, first_epoch=2**32 - 1, backend="numpy")
    np.testing.assert_array_equal(late, reference)
    assert sorted(late[0, 0, 0]) == list(range(50))


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, True])
def test_bad_first_epoch(bad):
    with pytest.raises((TypeError, ValueError), match="first_epoch"):
        optcore.epoch_orders("rr", 5, 1, first_epoch=bad)
