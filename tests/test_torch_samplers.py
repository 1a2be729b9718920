"""optcore.torch samplers: the engine's orders bit for bit, automatic epochs, and exact mid-epoch resumption."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="optcore.torch needs PyTorch (pip install optcore[torch])")

import optcore  # noqa: E402
from optcore.torch import GraBSampler, OrderBatchSampler, OrderSampler  # noqa: E402

N_TOTAL = 36  # divisible by world sizes 1, 2, 3 and, for syncshuf, M | n / M
EPOCHS = 5
EXPLICIT = np.random.default_rng(5).integers(0, N_TOTAL, size=(EPOCHS, 3, N_TOTAL))
CASES = [
    ("with_replacement", {}),
    ("random_reshuffling", {}),
    ("single_shuffle", {}),
    ("incremental", {}),
    ("incremental", {"base_order": "perm"}),
    ("flipflop_rr", {}),
    ("flipflop_ss", {}),
    ("flipflop_ig", {"base_order": "perm"}),
    ("syncshuf", {}),
    ("explicit", {"orders": "shared"}),
    ("explicit", {"orders": "per_rank"}),
]


def _options(extra, world_size):
    per_rank = N_TOTAL // world_size
    out = {}
    if extra.get("base_order") == "perm":
        out["base_order"] = np.random.default_rng(per_rank).permutation(per_rank)
    if extra.get("orders") == "shared":
        out["orders"] = EXPLICIT[:, 0, :per_rank] % per_rank
    elif extra.get("orders") == "per_rank":
        out["orders"] = EXPLICIT[:, :world_size, :per_rank] % per_rank
    return out


@pytest.mark.parametrize("world_size", [1, 2, 3])
@pytest.mark.parametrize(("order", "extra"), CASES, ids=[f"{c[0]}-{'-'.join(c[1].values())}" for c in CASES])
def test_indices_are_the_engines_orders(order, extra, world_size):
    options = _options(extra, world_size)
    per_rank = N_TOTAL // world_size
    for seed, run in ((0, 0), (12345, 3), (2**63 + 7, 2**32 - 1)):
        engine_options = dict(options)
        if extra.get("orders") == "per_rank":  # the engine reads (K, M, N) as (R, K, N): give it (1, K, M, N)
            engine_options["orders"] = options["orders"][None]
        engine = optcore.epoch_orders(
            order, N_TOTAL, EPOCHS, seed=seed, run_ids=[run], workers=world_size, **engine_options
        )[0]
        for rank in range(world_size):
            sampler = OrderSampler(N_TOTAL, order, seed=seed, run=run, rank=rank, world_size=world_size,
                                   **options)
            expected = engine[:, rank] + rank * per_rank
            for k in range(EPOCHS):
                got = sampler.indices(k)
                assert got.dtype == np.int64
                np.testing.assert_array_equal(got, expected[k])
            # iterating gives epochs 0, 1, 2, ... without set_epoch
            iterated = np.array([list(sampler) for _ in range(EPOCHS)])
            np.testing.assert_array_equal(iterated, expected)


def test_runs_of_one_engine_call_are_replayed():
    # run r of an engine call with runs=R is the sampler with run=r
    engine = optcore.epoch_orders("rr", 20, 3, seed=9, runs=4)
    for r in range(4):
        np.testing.assert_array_equal(OrderSampler(20, seed=9, run=r).indices(2), engine[r, 2, 0])


def test_dataloader_twice_without_set_epoch_gives_two_rr_epochs():
    dataset = torch.utils.data.TensorDataset(torch.arange(30))
    sampler = OrderSampler(dataset, "rr", seed=4)
    loader = torch.utils.data.DataLoader(dataset, batch_size=7, sampler=sampler)
    first = torch.cat([b[0] for b in loader]).numpy()
    second = torch.cat([b[0] for b in loader]).numpy()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, sampler.indices(0))
    np.testing.assert_array_equal(second, sampler.indices(1))
    assert sampler.epoch == 1


def test_set_epoch_still_works():
    sampler = OrderSampler(10, "rr", seed=1)
    for k in (3, 3, 0, 7):
        sampler.set_epoch(k)
        np.testing.assert_array_equal(list(sampler), sampler.indices(k))
    assert list(sampler) == list(sampler.indices(8))  # and the count goes on from there


@pytest.mark.parametrize("order", ["rr", "wr", "flipflop_rr", "syncshuf"])
@pytest.mark.parametrize("stop", [0, 1, 7, 11, 12])
def test_resume_mid_epoch_at_the_exact_next_index(order, stop):
    kwargs = dict(seed=99, run=2, rank=1, world_size=3)
    sampler = OrderSampler(36, order, **kwargs)
    list(sampler)  # epoch 0 done; the interrupted epoch is epoch 1
    it = iter(sampler)
    seen = [next(it) for _ in range(stop)]
    state = sampler.state_dict()
    resumed = OrderSampler(36, order, **kwargs)
    resumed.load_state_dict(state)
    rest = list(resumed)
    np.testing.assert_array_equal(seen + rest if stop < 12 else seen, sampler.indices(1))
    if stop == 12:  # a finished epoch resumes at the start of the next one
        np.testing.assert_array_equal(rest, sampler.indices(2))
    np.testing.assert_array_equal(list(resumed), sampler.indices(2 if stop < 12 else 3))


def test_batch_sampler_resumes_in_a_dataloader():
    dataset = torch.utils.data.TensorDataset(torch.arange(23))
    make = lambda: OrderBatchSampler(OrderSampler(dataset, "rr", seed=8), 4)  # noqa: E731
    batches = make()
    assert len(batches) == 6
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches)
    list(loader)
    seen = []
    for i, (x,) in enumerate(loader):
        seen.append(x.tolist())
        if i == 2:
            break
    state = batches.state_dict()
    again = make()
    again.load_state_dict(state)
    rest = [x.tolist() for (x,) in torch.utils.data.DataLoader(dataset, batch_sampler=again)]
    flat = [i for b in seen + rest for i in b]
    np.testing.assert_array_equal(flat, batches.indices(1))
    assert [len(b) for b in seen + rest] == [4, 4, 4, 4, 4, 3]


def test_batch_sampler_drop_last_is_the_engines_drop():
    batches = OrderBatchSampler(OrderSampler(10, "wr", seed=3), 4, drop_last=True)
    got = [b for b in batches]
    assert len(got) == len(batches) == 2
    engine = optcore.epoch_orders("wr", 10, 1, seed=3, count=8)[0, 0, 0]
    np.testing.assert_array_equal(np.concatenate(got), engine)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="world_size"):
        OrderSampler(10, world_size=3)
    with pytest.raises(ValueError, match="rank"):
        OrderSampler(10, rank=2, world_size=2)
    with pytest.raises(ValueError, match="order must be one of"):
        OrderSampler(10, "shuffle_sometimes")
    with pytest.raises(ValueError, match="orders= must be given"):
        OrderSampler(10, "explicit")
    with pytest.raises(ValueError, match="syncshuf"):
        OrderSampler(10, "syncshuf", world_size=2)
    with pytest.raises(ValueError, match="data_source"):
        OrderSampler(0)
    explicit = OrderSampler(4, "explicit", orders=[[0, 1, 2, 3], [3, 2, 1, 0]])
    with pytest.raises(ValueError, match="explicit orders cover epochs 0..1"):
        explicit.indices(2)
    state = OrderSampler(10, "rr", seed=1).state_dict()
    with pytest.raises(ValueError, match="another sampler"):
        OrderSampler(10, "rr", seed=2).load_state_dict(state)
    with pytest.raises(ValueError, match="batch_size"):
        OrderBatchSampler(OrderSampler(10), 0)


# --- GraB --------------------------------------------------------------------------------------------------------


def _feed_epoch(sampler, vectors, batch=1):
    order = list(sampler)
    for s in range(0, len(order), batch):
        sampler.feed(torch.as_tensor(vectors[order[s : s + batch]]))
    return np.array(order)


def test_grab_sampler_is_the_balancing_of_the_engine_side_grab():
    z = np.random.default_rng(0).standard_normal((40, 6))
    sampler = GraBSampler(40, seed=5)
    first = _feed_epoch(sampler, z, batch=3)
    np.testing.assert_array_equal(first, optcore.epoch_orders("rr", 40, 1, seed=5)[0, 0, 0])
    from optcore.shuffling.grab import balance_order

    expected = balance_order(z[first][None], first[None], np.zeros((1, 6)))[0]
    np.testing.assert_array_equal(sampler.indices(1), expected)
    second = _feed_epoch(sampler, z)
    np.testing.assert_array_equal(second, expected)
    np.testing.assert_array_equal(sampler.indices(2), balance_order(z[second][None], second[None], z.mean(0)[None])[0])


def test_grab_sampler_needs_every_gradient_and_resumes():
    z = np.random.default_rng(1).standard_normal((12, 3))
    sampler = GraBSampler(12, seed=2)
    it = iter(sampler)
    got = [next(it) for _ in range(5)]
    with pytest.raises(ValueError, match="only 5 yielded examples"):
        sampler.feed(z[got + got[:1]])
    sampler.feed(z[got])
    state = sampler.state_dict()
    with pytest.raises(RuntimeError, match="all n = 12 examples of epoch 0"):
        iter(sampler)
    resumed = GraBSampler(12, seed=2)
    resumed.load_state_dict(state)
    rest = list(resumed)
    np.testing.assert_array_equal(got + rest, sampler.indices(0))
    resumed.feed(torch.as_tensor(z[rest]))
    sampler_rest = [next(it) for _ in range(7)]
    sampler.feed(z[sampler_rest])
    np.testing.assert_array_equal(resumed.indices(1), sampler.indices(1))
    assert sorted(resumed.indices(1)) == list(range(12))
    with pytest.raises(ValueError, match="set_epoch can repeat epoch 0 or move to 1"):
        sampler.set_epoch(5)


def test_checkpoints_survive_torch_save_and_a_weights_only_load():
    import io

    def roundtrip(state):
        buffer = io.BytesIO()
        torch.save(state, buffer)
        buffer.seek(0)
        return torch.load(buffer, weights_only=True)

    sampler = OrderSampler(8, "flipflop_ig", seed=3, base_order=[7, 6, 5, 4, 3, 2, 1, 0])
    it = iter(sampler)
    head = [next(it) for _ in range(3)]
    again = OrderSampler(8, "flipflop_ig", seed=3, base_order=[7, 6, 5, 4, 3, 2, 1, 0])
    again.load_state_dict(roundtrip(sampler.state_dict()))
    assert head + list(again) == list(sampler.indices(0))

    z = np.random.default_rng(2).standard_normal((8, 2))
    grab = GraBSampler(8, seed=1)
    _feed_epoch(grab, z)
    it = iter(grab)
    head = [next(it) for _ in range(3)]
    grab.feed(z[head])
    resumed = GraBSampler(8, seed=1)
    resumed.load_state_dict(roundtrip(grab.state_dict()))
    rest = list(resumed)
    assert head + rest == list(grab.indices(1))
    resumed.feed(z[rest])
    grab.feed(z[[next(it) for _ in range(5)]])
    np.testing.assert_array_equal(resumed.indices(2), grab.indices(2))


def test_grab_with_and_without_set_epoch_is_the_same_run():
    z = np.random.default_rng(3).standard_normal((10, 4))
    plain, explicit = GraBSampler(10, seed=6), GraBSampler(10, seed=6)
    for k in range(4):
        explicit.set_epoch(k)  # the usual DistributedSampler-style loop
        np.testing.assert_array_equal(_feed_epoch(explicit, z, batch=4), _feed_epoch(plain, z, batch=4))
    explicit.set_epoch(4)
    explicit.set_epoch(4)  # repeating the epoch that is about to start changes nothing
    np.testing.assert_array_equal(list(explicit), plain.indices(4))
