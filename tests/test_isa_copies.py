"""Every instruction-set copy of the loops (cpp/bindings/sgd_dispatch.hpp) runs the network evaluations behind
MLP.forward, loss_and_grad, accuracy, per_example_grads, hvp and hessian (_core.mlp_eval), and gives the same
bits as the portable copy (and loss_and_grad's loss, taken from the gradient's forward pass, the bits of
loss_value): narrow layers (the block passes of mlp_small.hpp), layers wider than 64 (matrix
products, mlp_gemm.hpp), a structured network, float32 and float64. A copy this build lacks or this CPU cannot
run is skipped by name (isa_info()["usable"] lists the ones exercised here; "usable" and "built" list the copies
best first after "portable")."""

import numpy as np
import pytest
from mlp_reference import random_data

from optcore import _core
from optcore.nn import MLP

USABLE = _core.isa_info()["usable"].split(",")
COPIES = [isa for isa in _core.isa_info()["built"].split(",") if isa != "portable"]

NETWORKS = [  # (widths, activation, loss, n, masked)
    ([7, 45, 19, 2], "leaky", "squared", 70, False),
    ([5, 16, 16, 1], "tanh", "logistic", 33, False),
    ([4, 80, 70], "softplus", "softmax_ce", 21, False),  # wider than 64: matrix products
    ([6, 9, 1], "relu", "squared", 11, True),  # a masked network (P H P v for the Hessian)
]


def _network(widths, activation, loss, dtype, masked):
    masks = None
    if masked:
        rng = np.random.default_rng(5)
        masks = [(rng.random((o, i)) < 0.6).astype(np.int64) for i, o in zip(widths[:-1], widths[1:], strict=True)]
    kwargs = {"slopes": (1.0, 0.2)} if activation == "leaky" else {}
    return MLP(widths, activation=activation, loss=loss, dtype=dtype, masks=masks, **kwargs)


def _evaluations(net, params, X, Y, v):
    out = {
        "forward": net.forward(params, X),
        "loss_value": net.loss_value(params, X, Y),
        "loss_and_grad": net.loss_and_grad(params, X, Y),
        "accuracy": net.accuracy(params, X, Y),
        "per_example_grads": net.per_example_grads(params, X, Y),
        "hvp": net.hvp(params, X, Y, v),
    }
    if net.n_params <= 400:  # a dense Hessian is P Hessian-vector products
        out["hessian"] = net.hessian(params[:1], X, Y)
    return out


def _assert_same_bits(a, b, what: str) -> None:
    if isinstance(a, tuple):
        for x, y in zip(a, b, strict=True):
            _assert_same_bits(x, y, what)
        return
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
        np.testing.assert_array_equal(a, b, err_msg=what)  # names the entries that differ
        pytest.fail(f"{what}: same values but not the same bits (signed zeros or NaN payloads)")


@pytest.mark.parametrize("isa", COPIES or ["none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("widths", "activation", "loss", "n", "masked"), NETWORKS)
def test_network_evaluations_give_the_portable_bits(isa, dtype, widths, activation, loss, n, masked, monkeypatch):
    if isa not in USABLE:
        pytest.skip(f"copy {isa!r} is not built or this CPU cannot run it (usable: {USABLE})")
    net = _network(widths, activation, loss, dtype, masked)
    X, Y = random_data(widths, loss, n, dtype, seed=1)
    params = net.init(3, seed=4)
    v = net.project(np.random.default_rng(2).standard_normal(params.shape).astype(dtype))
    results = {}
    for copy in ("portable", isa):
        monkeypatch.setenv("OPTCORE_ISA", copy)
        results[copy] = _evaluations(net, params, X, Y, v)
    assert results["portable"].keys() == results[isa].keys()
    for copy, got in results.items():  # loss_and_grad takes the loss from its gradient pass: loss_value's bits
        _assert_same_bits(got["loss_and_grad"][0], got["loss_value"], f"loss_and_grad's loss on copy {copy}")
    for name, value in results["portable"].items():
        _assert_same_bits(value, results[isa][name], f"{name} on copy {isa}")


def test_isa_info_names_the_copies():
    info = _core.isa_info()
    assert USABLE[0] == "portable" and set(USABLE) <= set(info["built"].split(","))
    assert info["auto"] in USABLE and info["auto"] == (USABLE + ["portable"])[1]  # the best copy this CPU runs
    assert info["avx2_used"] == ("avx2" in USABLE)


def test_an_unknown_copy_is_refused_by_name(monkeypatch):
    net = MLP([2, 3, 1])
    X, Y = random_data([2, 3, 1], "squared", 4)
    monkeypatch.setenv("OPTCORE_ISA", "sse9")
    with pytest.raises(ValueError, match="isa='sse9'.*portable"):
        net.loss_value(net.init(1), X, Y)
