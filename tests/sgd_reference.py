"""An independent, step-by-step NumPy implementation of the engine, written only for the tests.

It is fed the index streams (from optcore.epoch_orders) and recomputes every step with plain NumPy formulas for
each problem, in float64 whatever the engine's dtype, following the documented semantics of run_sgd.
"""

import numpy as np


def component_gradient(kind, data, i, x):
    """grad f_i(x) from the raw problem data, float64."""
    if kind == "least_squares":
        a = data["A"][i].astype(np.float64)
        return a * (a @ x - float(data["b"][i])) + data["l2"] * x
    if kind in ("logistic", "exponential"):
        a, y = data["A"][i].astype(np.float64), float(data["y"][i])
        z = y * (a @ x)
        dphi = -1.0 / (1.0 + np.exp(z)) if kind == "logistic" else -np.exp(-z)
        return dphi * y * a + data["l2"] * x
    if kind == "quadratic":
        return data["A"][i].astype(np.float64) @ x - data["b"][i].astype(np.float64)
    if kind == "huber":
        a, delta = data["A"][i].astype(np.float64), data["delta"]
        r = a @ x - float(data["b"][i])
        return min(max(r, -delta), delta) * a + data["l2"] * x
    if kind == "squared_hinge":
        a, y = data["A"][i].astype(np.float64), float(data["y"][i])
        m = 1.0 - y * (a @ x)
        return (-y * m if m > 0 else 0.0) * a + data["l2"] * x
    if kind == "poisson":
        a, y = data["A"][i].astype(np.float64), float(data["y"][i])
        return (np.exp(a @ x) - y) * a + data["l2"] * x
    if kind == "lower_bound":
        curv = data["L"] if x[0] <= 0 else data["mu"]
        return np.array([curv * x[0] + float(data["z"][i]) * data["nu"]])
    raise ValueError(kind)


def reference_run(problem, indices, step_table, decay, x0, *, batch_size, workers, mode, sync_every, record_every):
    """Final iterates (R, d) and iterates at the record points (R, P, d) for indices of shape (R, K, M, count)."""
    data = {k: (np.asarray(v) if not np.isscalar(v) else float(v)) for k, v in problem._data().items()}
    R, K, M, count = indices.shape
    N = problem.n // workers
    B = batch_size
    steps = -(-count // B)
    final, records = [], []
    for r in range(R):
        x = np.array(x0[r], dtype=np.float64)
        copies = [x.copy() for _ in range(M)]
        recs = [x.copy()]
        t = 0
        for k in range(K):
            for s in range(steps):
                eta = float(step_table[r, k]) / (1.0 + float(decay[r]) * t)
                batch = [indices[r, k, m, s * B : (s + 1) * B] for m in range(M)]
                if mode == "minibatch":
                    grads = [component_gradient(problem.kind, data, m * N + i, x) for m in range(M) for i in batch[m]]
                    x = x - eta * np.mean(grads, axis=0)
                else:
                    for m in range(M):
                        grads = [component_gradient(problem.kind, data, m * N + i, copies[m]) for i in batch[m]]
                        g = np.mean(grads, axis=0)
                        copies[m] = copies[m] - eta * g
                    if (s + 1) % sync_every == 0 or s + 1 == steps:
                        x = np.mean(copies, axis=0)
                        copies = [x.copy() for _ in range(M)]
                t += 1
                if record_every and t % record_every == 0:
                    recs.append(x.copy() if mode == "minibatch" else np.mean(copies, axis=0))
            if not record_every:
                recs.append(x.copy())
        final.append(x)
        records.append(recs)
    return np.array(final), np.array(records)
