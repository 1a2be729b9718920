"""Classification by memorization (THEORY.md 2.2, item 8): argmax labels and exact one-hot outputs.

* argmax: memorize the scalar s_i = v_{c_i} (class values v_c evenly spaced in [-1, 1]) with the 3-layer
  construction, then output o_c = v_c s - v_c^2 / 2, a linear map folded into the last layer: argmax_c o_c is the
  class whose value is nearest to s, so the argmax is c_i exactly at every x_i.
* exact one-hot: memorize s_i = (c_i + 1) / 2^k (2^k > C, dyadic so exact in float64 too), add one hidden layer
  of C + 2 ReLUs of u - t (u = 2^k s, t = 0..C+1), and output e_c(u) = ReLU(u - c) - 2 ReLU(u - c - 1) +
  ReLU(u - c - 2), which is 1 at u = c + 1 and 0 at the other integers.
Both keep Theta(sqrt(N) + C) hidden units.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .._validation import integer
from .construction import Construction, memorize
from .points import exact_float64


def memorize_classes(X, labels, num_classes: int, *, exact_one_hot: bool = False, d1=None, d2=None, seed=0):
    """A ReLU network whose outputs classify every x_i as labels[i] (argmax) or equal the one-hot vector exactly.

    Parameters
    ----------
    X : array (N, dx)
        Finite inputs; rows equal as numbers (0.0 and -0.0 included) must carry the same class (they are merged),
        else ``ValueError``.
    labels : int array (N,)
        Classes in 0..num_classes-1.
    num_classes : int
        C >= 2.
    exact_one_hot : bool
        False: C outputs whose argmax is the class (3 layers); True: outputs equal to the one-hot vectors exactly
        (4 layers).
    d1, d2, seed
        As in :func:`~optcore.memorization.construction.memorize`, for the scalar network inside.

    Returns
    -------
    Construction
    """
    C = integer(num_classes, "num_classes", minimum=2)
    X = exact_float64(X, "X", ndim=2)
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be an integer array, got dtype {labels.dtype}")
    if labels.shape != (X.shape[0],):
        raise ValueError(f"labels must have shape ({X.shape[0]},) (one class per row of X), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"labels must lie in 0..{C - 1}, got values in [{labels.min()}, {labels.max()}]")
    if exact_one_hot:
        # s_i = (c_i + 1) / 2^k: dyadic, so exact in float64 too, and u = 2^k s = c_i + 1 is an integer
        scale = 1 << int(np.ceil(np.log2(C + 1)))
        scalar = memorize(X, (labels + 1) / scale, d1=d1, d2=d2, seed=seed)
        (W1, b1), (W2, b2), (W3, b3) = scalar.layers
        # layer 3 becomes C + 2 ReLUs of u - t, t = 0..C+1 (s = W3 a + b3, the scalar output)
        W3n = [[Fraction(scale) * w for w in W3[0]] for _ in range(C + 2)]
        b3n = [Fraction(scale) * b3[0] - t for t in range(C + 2)]
        # e_c for class c (u = c + 1 for class c): ReLU(u - c) - 2 ReLU(u - c - 1) + ReLU(u - c - 2)
        W4 = [[Fraction(0)] * (C + 2) for _ in range(C)]
        for c in range(C):
            W4[c][c] += 1
            W4[c][c + 1] -= 2
            W4[c][c + 2] += 1
        layers = [(W1, b1), (W2, b2), (W3n, b3n), (W4, [Fraction(0)] * C)]
        widths = [scalar.widths[0], scalar.widths[1], scalar.widths[2], C + 2, C]
        return Construction(layers=layers, widths=widths, projection=scalar.projection)
    values = [Fraction(2 * c, C - 1) - 1 for c in range(C)]
    scalar = memorize(X, np.array([float(values[c]) for c in labels]), d1=d1, d2=d2, seed=seed)
    (W1, b1), (W2, b2), (W3, b3) = scalar.layers
    W3n = [[v * w for w in W3[0]] for v in values]
    b3n = [v * b3[0] - v * v / 2 for v in values]
    return Construction(
        layers=[(W1, b1), (W2, b2), (W3n, b3n)], widths=[*scalar.widths[:3], C], projection=scalar.projection
    )
