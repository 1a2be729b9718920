"""optcore.spectrum.from_torch: a PyTorch model has the spectra of the same network as an optcore MLP."""

import numpy as np
import pytest

from optcore import MLP, spectrum

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny products: torch's intra-op threads only add synchronization (100x slower on a loaded machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pair(activation, loss, reduction="mean", seed=0, n=30):
    rng = np.random.default_rng(seed)
    widths = [4, 6, 5, 3]
    mlp = MLP(widths, activation=activation, loss=loss, reduction=reduction)
    p = mlp.init(1, seed=seed)[0]
    X = rng.standard_normal((n, widths[0]))
    Y = rng.standard_normal((n, widths[-1])) if loss == "squared" else rng.integers(0, widths[-1], n).astype(float)
    model, loss_fn = spectrum.mlp_to_torch(mlp, p)
    return mlp, p, X, Y, model, loss_fn


@pytest.mark.parametrize(
    "activation,loss",
    [
        ("relu", "squared"),
        ("tanh", "softmax_ce"),
        pytest.param("tanh", "squared", marks=pytest.mark.slow),
        pytest.param("relu", "softmax_ce", marks=pytest.mark.slow),
    ],
)
def test_torch_and_mlp_give_the_same_spectra(activation, loss):
    mlp, p, X, Y, model, loss_fn = _pair(activation, loss)
    ours = spectrum.from_mlp(mlp, p, X, Y)
    theirs = spectrum.from_torch(model, loss_fn, (torch.tensor(X), torch.tensor(Y)))
    assert theirs.dim == ours.dim
    H = ours.dense()
    Ht = theirs.dense()
    assert np.abs(Ht - H).max() <= 1e-12 * np.abs(H).max()
    w = np.linalg.eigvalsh(H)
    for which, ref in (("largest", w[::-1][:3]), ("smallest", w[:3])):
        a = spectrum.eigenpairs(ours, 3, which=which)
        b = spectrum.eigenpairs(theirs, 3, which=which)
        assert np.abs(b.values - ref).max() <= 1e-10 * np.abs(w).max()
        assert np.abs(a.values - b.values).max() <= 1e-10 * np.abs(w).max()
        assert np.abs(np.abs(np.sum(a.vectors * b.vectors, axis=0)) - 1).max() <= 1e-10
    ta = spectrum.trace(ours, seed=3, rtol=0.2)
    tb = spectrum.trace(theirs, seed=3, rtol=0.2)
    assert tb.value == pytest.approx(ta.value, rel=1e-9) and tb.n_hvp == ta.n_hvp
    da = spectrum.density(ours, n_vectors=3, steps=10, seed=1)
    db = spectrum.density(theirs, n_vectors=3, steps=10, seed=1)
    assert np.abs(db.density - da.density).max() <= 1e-8 * da.density.max()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_dataloader_accumulation_equals_full_batch(reduction):
    mlp, p, X, Y, model, loss_fn = _pair("tanh", "softmax_ce", reduction=reduction, n=31)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    full = spectrum.from_torch(model, loss_fn, (Xt, Yt), reduction=reduction)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xt, Yt), batch_size=7, shuffle=False)
    batched = spectrum.from_torch(model, loss_fn, loader, reduction=reduction)
    looped = spectrum.from_torch(model, loss_fn, loader, reduction=reduction, vectorize=False)
    V = np.random.default_rng(0).standard_normal((full.dim, 4))
    ref = full.matmat(V)
    assert np.abs(batched.matmat(V) - ref).max() <= 1e-12 * np.abs(ref).max()
    assert np.abs(looped.matmat(V) - ref).max() <= 1e-12 * np.abs(ref).max()
    assert np.abs(ref - spectrum.from_mlp(mlp, p, X, Y).matmat(V)).max() <= 1e-12 * np.abs(ref).max()


def test_torch_bad_input():
    mlp, p, X, Y, model, loss_fn = _pair("relu", "squared")
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    with pytest.raises(ValueError, match="reduction must be one of"):
        spectrum.from_torch(model, loss_fn, (Xt, Yt), reduction="none")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        spectrum.from_torch(lambda x: x, loss_fn, (Xt, Yt))
    with pytest.raises(ValueError, match="same number of examples"):
        spectrum.from_torch(model, loss_fn, (Xt, Yt[:-1]))
    with pytest.raises(TypeError, match="re-iterable"):
        spectrum.from_torch(model, loss_fn, iter([(Xt, Yt)]))
    with pytest.raises(ValueError, match="non-finite"):
        spectrum.from_torch(model, lambda out, y: torch.sqrt(-((out - y) ** 2).sum() - 1), (Xt, Yt))
