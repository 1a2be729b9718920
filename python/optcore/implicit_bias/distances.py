"""Distances between GD's predictors and predicted limits, along the last axis (broadcasting over the rest)."""

from __future__ import annotations

import numpy as np


def _norm(a):
    return np.linalg.norm(a, axis=-1)


def angle(a, b) -> np.ndarray:
    """Angle in radians between ``a`` and ``b`` (NaN where either is zero)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.sum(a * b, axis=-1) / (_norm(a) * _norm(b))
    return np.arccos(np.clip(c, -1.0, 1.0))


def direction_error(a, b) -> np.ndarray:
    """|| a/||a|| - b/||b|| ||, Soudry et al.'s direction error (NaN where either is zero)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _norm(a / _norm(a)[..., None] - b / _norm(b)[..., None])


def normalized_error(a, b) -> np.ndarray:
    """|| a - b || / || b ||, the relative error of ``a`` against the reference ``b``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _norm(a - b) / _norm(b)
