"""The network evaluations name the argument that is wrong."""

import numpy as np
import pytest

from optcore import _memory
from optcore.nn import MLP


@pytest.fixture
def mlp():
    return MLP([2, 3, 1])


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 2)), rng.standard_normal(5)


@pytest.mark.parametrize("v_shape", [(3,), (1, 3), (2, 13), (13, 1)])
def test_hvp_names_a_wrong_v(mlp, data, v_shape):
    params = mlp.init(runs=1, seed=0)[0]
    with pytest.raises(ValueError, match=r"v must have shape \(13,\)"):
        mlp.hvp(params, *data, np.ones(v_shape))


def test_hvp_v_per_network(mlp, data):
    params = mlp.init(runs=2, seed=0)
    v = np.ones((2, mlp.n_params))
    np.testing.assert_array_equal(mlp.hvp(params, *data, v), mlp.hvp(params, *data, v[0]))
    with pytest.raises(ValueError, match=r"v must have shape \(13,\) .* or \(2, 13\), one per network, got \(3, 13\)"):
        mlp.hvp(params, *data, np.ones((3, mlp.n_params)))


def test_huge_outputs_are_refused(mlp, data, monkeypatch):
    monkeypatch.setattr(_memory, "memory_limit", lambda: 2**10)
    monkeypatch.setattr(_memory, "SMALL", 0)
    with pytest.raises(ValueError, match=r"MLP\.per_example_grads with R = 4 .* n = 5 .*GiB"):
        mlp.per_example_grads(mlp.init(runs=4, seed=0), *data)
