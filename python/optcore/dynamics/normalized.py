"""Layer norms, normalized outputs and the GD trajectories of THEORY.md 5.2.

A bias-free ReLU net is 1-homogeneous in each layer: with rho_k = ||W_k||_F and V_k = W_k / rho_k,
f(W; x) = rho f(V; x), rho = prod_k rho_k. Under gradient flow on the exponential loss d(rho_k^2)/dt is the same
for every layer, so rho_k^2 - rho_j^2 is conserved; one GD step of size eta changes it by exactly
eta^2 (||grad_k||^2 - ||grad_j||^2), an O(eta) drift over the O(1/eta) steps of a fixed time span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import float_array, integer, positive_float
from ..nn import MLP, NetworkProblem
from ..sgd import run_sgd


def _check_mlp(mlp) -> MLP:
    if not isinstance(mlp, MLP):
        raise TypeError(f"mlp must be an optcore.nn.MLP, got {type(mlp).__name__}")
    if mlp.bias or mlp.activation not in ("relu", "linear", "leaky"):
        raise ValueError("normalized dynamics need a bias-free, positively homogeneous net (relu, leaky or linear)")
    return mlp


def layer_norms(mlp: MLP, params) -> np.ndarray:
    """Frobenius norms rho_k of the layers, shape (..., L) for params (..., P)."""
    mlp = _check_mlp(mlp)
    p = np.asarray(params, dtype=float)
    flat = p.reshape(-1, mlp.n_params)
    out = np.array([[np.linalg.norm(W) for W, _ in mlp.unpack(row)] for row in flat])
    return out.reshape(p.shape[:-1] + (len(mlp.shapes),))


def _forward(mlp: MLP, params, X) -> np.ndarray:
    # the same architecture with the squared loss: MLP.forward checks labels of classification losses, and the
    # outputs do not depend on the loss
    twin = MLP(mlp.widths, activation=mlp.activation, slopes=mlp.slopes, bias=False, loss="squared", dtype=mlp.dtype)
    return twin.forward(np.asarray(params, dtype=mlp.dtype), X)


def normalized_outputs(mlp: MLP, params, X) -> np.ndarray:
    """f(V; x) = f(W; x) / prod_k rho_k for every example: outputs of the net with unit-norm layers, (n, d_out)."""
    mlp = _check_mlp(mlp)
    rho = np.prod(layer_norms(mlp, params))
    return _forward(mlp, params, X) / rho


@dataclass(frozen=True)
class NormalizedDynamics:
    """What :func:`run_normalized_dynamics` returns; arrays are (runs, records[, layers]).

    Attributes
    ----------
    steps : (K,) array
        GD steps at the records.
    rho_layers : (R, K, L) array
        Layer norms rho_k.
    rho : (R, K) array
        Their product.
    margin : (R, K) array
        Normalized margin min_n y_n f(V; x_n).
    loss : (R, K) array
        Average exponential loss.
    params : (R, K, P) array
        The parameters at the records.
    mlp : MLP
    step_size : float
    """

    steps: np.ndarray
    rho_layers: np.ndarray
    rho: np.ndarray
    margin: np.ndarray
    loss: np.ndarray
    params: np.ndarray
    mlp: MLP
    step_size: float

    def conservation_drift(self) -> np.ndarray:
        """Max over records and layer pairs of |(rho_k^2 - rho_j^2)(t) - (rho_k^2 - rho_j^2)(0)|, per run."""
        sq = self.rho_layers**2
        diff = sq[:, :, :, None] - sq[:, :, None, :]
        return np.max(np.abs(diff - diff[:, :1]), axis=(1, 2, 3))


def run_normalized_dynamics(
    X,
    y,
    *,
    hidden=(16, 16),
    steps: int,
    step_size: float,
    runs: int = 1,
    init_scale: float = 1.0,
    record_every: int | None = None,
    seed: int = 0,
    threads: int | None = None,
) -> NormalizedDynamics:
    """Full-batch GD on a bias-free ReLU MLP with the exponential loss; layer norms and normalized margins over time.

    Parameters
    ----------
    X : (n, d) array
    y : (n,) array of -1/+1 labels
    hidden : sequence of int
        Hidden widths.
    steps : int
        GD steps (one full-batch step per epoch of the engine).
    step_size : float
    runs : int
        Networks trained (He initializations times ``init_scale``, Philox streams of ``seed``).
    init_scale : float
    record_every : int, optional
        Steps between records (default steps / 200).
    seed : int
    threads : int, optional

    Returns
    -------
    NormalizedDynamics
    """
    Xa = float_array(X, "X", np.float64, ndim=2)
    steps = integer(steps, "steps", minimum=1)
    eta = positive_float(step_size, "step_size")
    hidden = [integer(h, "hidden width", minimum=1) for h in hidden]
    mlp = MLP([Xa.shape[1], *hidden, 1], activation="relu", bias=False, loss="exponential")
    problem = NetworkProblem(mlp, Xa, y)
    every = max(1, steps // 200) if record_every is None else integer(record_every, "record_every", minimum=1)
    x0 = mlp.init(integer(runs, "runs", minimum=1), scale=positive_float(init_scale, "init_scale"), seed=seed)
    res = run_sgd(
        problem,
        order="incremental",
        batch_size=Xa.shape[0],
        epochs=steps,
        step_size=eta,
        x0=x0,
        runs=runs,
        record=("objective",),
        record_every=every,
        record_iterates=True,
        seed=seed,
        threads=threads,
    )
    params = res.iterates
    R, K = params.shape[:2]
    rho_layers = layer_norms(mlp, params)
    rho = np.prod(rho_layers, axis=-1)
    yv = np.asarray(y, dtype=float)
    outputs = np.stack([_forward(mlp, params[r], Xa)[..., 0] for r in range(R)])  # (R, K, n)
    margin = np.min(yv * outputs, axis=-1) / rho
    return NormalizedDynamics(
        steps=res.steps,
        rho_layers=rho_layers,
        rho=rho,
        margin=margin,
        loss=res.objective,
        params=params,
        mlp=mlp,
        step_size=eta,
    )
