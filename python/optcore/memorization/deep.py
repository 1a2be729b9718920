"""The deep variant (THEORY.md 2.2, item 9): Theta(N) parameters spread over many narrow layers.

The sorted projections z_i = u'x_i are cut into chunks; chunk c is memorized by its own ramps (hidden layer
2c - 1) and zigzag units (hidden layer 2c), built with :func:`zigzag_layer` so that its hard-tanh units add
1 + y_i at its own points and exactly 0 at every other point (its ramps start and end in the gaps between
chunks, and its units are forced to saturate beyond them). Two extra channels run through every hidden layer,
both non-negative so that ReLU passes them unchanged: the shifted projection z - z_min + m (m: the data-sized
margin of :func:`~optcore.memorization.construction.outer_margin`), from which the next chunk's ramps are
computed, and the running sum of the finished chunks' contributions. The output adds the last chunk's
contribution to the running sum and subtracts 1.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .._validation import float_array, integer
from .construction import Construction, _projection, outer_margin, zigzag_layer
from .points import memorization_data

F = Fraction


def memorize_deep(X, y, *, width: int, seed=0) -> Construction:
    """A deep ReLU network of hidden width ``width`` (>= 8) that memorizes N points exactly.

    It has as many layers as needed: each pair of hidden layers memorizes a chunk of
    (width - 2)//2 * 2 * ((width - 2)//4) points, so the parameter count grows linearly in N.

    Parameters
    ----------
    X : array (N, dx)
        Finite inputs. Rows equal as numbers (0.0 and -0.0 included) are one point: merged when their labels are
        equal, a ``ValueError`` when they differ (as in :func:`memorize`).
    y : array (N,)
        Labels in [-1, 1].
    width : int
        Hidden width of every layer (two units of each layer carry the projection and the running sum).
    seed : int
        Seed of the projection.
    """
    width = integer(width, "width", minimum=8)
    y = float_array(y, "y", np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must have shape (N,), got {y.shape}")
    X, Y = memorization_data(X, y, y_name="y")
    y = Y[:, 0]
    N, dx = X.shape
    ramps_per_chunk, pairs = (width - 2) // 2, (width - 2) // 4
    per_chunk = ramps_per_chunk * 2 * pairs
    Xq = [[F(float(v)) for v in row] for row in X]
    u, z = _projection(Xq, X, np.random.default_rng(seed))
    order = sorted(range(N), key=lambda i: z[i])
    zs = [z[i] for i in order]
    ys = [F(float(y[i])) for i in order]
    margin = outer_margin(zs)  # scales with the data, as in memorize (a fixed 1 lost digits at small scales)
    shift = margin - zs[0]  # carried projection z + shift >= margin > 0
    chunks = [list(range(s, min(s + per_chunk, N))) for s in range(0, N, per_chunk)]
    bounds = [zs[0] - margin]
    for c in range(len(chunks) - 1):
        bounds.append((zs[chunks[c][-1]] + zs[chunks[c + 1][0]]) / 2)
    bounds.append(zs[-1] + margin)

    layers = []
    # the previous zigzag layer's layout: [unit ReLUs (s+1, s-1 per unit) | z carry | sum carry]
    prev_units = 0
    for c, chunk in enumerate(chunks):
        ramps, units = zigzag_layer(
            [zs[i] for i in chunk],
            [ys[i] for i in chunk],
            pairs=pairs,
            left=bounds[c],
            right=bounds[c + 1],
            saturate_outside=True,
        )
        # ramp layer: 2 ReLUs per ramp, ReLU(a z + cc +- 1); then the z carry and the running sum
        W, b = [], []
        if c == 0:
            for a, cc in ramps:
                for pm in (F(1), F(-1)):
                    W.append([a * int(ui) for ui in u])
                    b.append(cc + pm)
            W.append([F(int(ui)) for ui in u])  # z + shift
            b.append(shift)
            W.append([F(0)] * dx)  # running sum: nothing yet
            b.append(F(0))
        else:
            n_prev = 2 * prev_units
            z_in = [F(0)] * n_prev + [F(1), F(0)]
            for a, cc in ramps:
                for pm in (F(1), F(-1)):
                    W.append([a * w for w in z_in])
                    b.append(cc + pm - a * shift)  # z = carried - shift
            W.append(z_in)
            b.append(F(0))
            # running sum + the previous chunk's contribution sum_k (ReLU(s_k+1) - ReLU(s_k-1)) - units, >= 0
            W.append([F(1) if q % 2 == 0 else F(-1) for q in range(n_prev)] + [F(0), F(1)])
            b.append(-F(prev_units))
        layers.append((W, b))
        n_ramp = 2 * len(ramps)
        # zigzag layer: ReLU(s_k + 1), ReLU(s_k - 1) per unit, s_k = sum_j W_kj (P_j - Q_j) + b_k; the carries
        W, b = [], []
        for Wj, bj in units:
            row = [v for w in Wj for v in (w, -w)] + [F(0), F(0)]
            for pm in (F(1), F(-1)):
                W.append(list(row))
                b.append(bj + pm)
        for carry in (n_ramp, n_ramp + 1):
            row = [F(0)] * (n_ramp + 2)
            row[carry] = F(1)
            W.append(row)
            b.append(F(0))
        layers.append((W, b))
        prev_units = len(units)
    # output: running sum + the last chunk's contribution - 1
    n_prev = 2 * prev_units
    layers.append(([[F(1) if q % 2 == 0 else F(-1) for q in range(n_prev)] + [F(0), F(1)]], [-F(prev_units) - 1]))
    widths = [dx] + [len(b) for _, b in layers[:-1]] + [1]
    return Construction(layers=layers, widths=widths, projection=u)
