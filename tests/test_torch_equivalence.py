"""One result, two worlds: least squares trained in PyTorch with the sampler = optcore.run_sgd, step for step."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="optcore.torch needs PyTorch (pip install optcore[torch])")

import optcore  # noqa: E402
from optcore.torch import OrderBatchSampler, OrderSampler  # noqa: E402


def torch_sgd_iterates(problem, order, *, batch, world_size, epochs, eta, seed):
    """SGD in PyTorch on LeastSquares' components f_i(x) = 1/2 (a_i'x - b_i)^2 + l2/2 |x|^2.

    Each rank's loss is the mean of f_i over its batch and the ranks' gradients are averaged (what DDP does), so a
    step uses the mean of the M * b component gradients -- the engine's minibatch step with M workers.
    """
    A = torch.tensor(problem.A, dtype=torch.float64)
    b = torch.tensor(problem.b, dtype=torch.float64)
    x = torch.zeros(problem.dim, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=eta, momentum=0.0)
    ranks = [
        OrderBatchSampler(OrderSampler(problem.n, order, seed=seed, rank=m, world_size=world_size), batch)
        for m in range(world_size)
    ]
    iterates = [x.detach().clone()]
    for _ in range(epochs):
        for batches in zip(*ranks, strict=True):  # every rank's batch of this step
            opt.zero_grad()
            per_rank = []
            for idx in batches:
                r = A[idx] @ x - b[idx]
                per_rank.append((0.5 * r * r + 0.5 * problem.l2 * (x @ x)).mean())
            loss = torch.stack(per_rank).mean()
            loss.backward()
            opt.step()
            iterates.append(x.detach().clone())
    return torch.stack(iterates).numpy()


@pytest.mark.parametrize("world_size", [1, 2])
@pytest.mark.parametrize("batch", [1, 4, 5])
@pytest.mark.parametrize("order", ["random_reshuffling", "with_replacement", "single_shuffle", "flipflop_rr"])
def test_least_squares_in_pytorch_follows_run_sgd(order, batch, world_size):
    problem = optcore.LeastSquares.random(24, 5, seed=1, l2=0.1)
    eta, epochs, seed = 0.3 / problem.L, 3, 7
    engine = optcore.run_sgd(
        problem, order=order, epochs=epochs, step_size=eta, seed=seed, batch_size=batch, workers=world_size,
        record_every=1, record_iterates=True,
    ).iterates[0]
    mine = torch_sgd_iterates(problem, order, batch=batch, world_size=world_size, epochs=epochs, eta=eta, seed=seed)
    assert mine.shape == engine.shape
    scale = np.max(np.abs(engine))
    assert np.max(np.abs(mine - engine)) <= 1e-12 * scale
    assert np.max(np.abs(engine[-1] - engine[0])) > 1e-3 * scale  # the runs moved
