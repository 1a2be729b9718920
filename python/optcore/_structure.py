"""Structured networks: per-layer weight masks (fixed connectivity) and tied weights, as one flat group map.

A structured network's free parameters phi are copied into the usual flat layout theta = T phi (see
:class:`optcore.nn.MLP`): every parameter q has a group ``group[q]``, -1 for a masked weight (always 0), otherwise
the index of its free parameter. Masks alone give one group per unmasked entry; ties put several entries of one
layer in the same group (weight sharing). The compiled core projects gradients with P = T T' (each entry receives
the sum of the raw gradient over its group), which is exactly SGD on phi (cpp/include/optcore/mlp.hpp).
"""

from __future__ import annotations

import numpy as np


def check_masks(masks, shapes) -> list[np.ndarray | None]:
    """Per-layer 0/1 masks as bool arrays (None: the layer is fully connected); raise on anything malformed."""
    if masks is None:
        return [None] * len(shapes)
    if isinstance(masks, np.ndarray) or not hasattr(masks, "__len__"):
        raise TypeError(f"masks must be a list with one entry (an array or None) per layer, got {type(masks).__name__}")
    if len(masks) != len(shapes):
        raise ValueError(f"masks must have one entry per weight layer ({len(shapes)}), got {len(masks)}")
    out = []
    for layer, (mask, shape) in enumerate(zip(masks, shapes, strict=True)):
        if mask is None:
            out.append(None)
            continue
        arr = np.asarray(mask)
        name = f"masks[{layer}]"
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a numeric or boolean array of 0/1, got dtype {arr.dtype}")
        if arr.shape != shape:
            raise ValueError(
                f"{name} must have the shape (d_out, d_in) = {shape} of layer {layer}'s W, got {arr.shape}"
            )
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must hold only 0 and 1, but contains NaN or inf")
        if not np.all((arr == 0) | (arr == 1)):
            bad = arr[(arr != 0) & (arr != 1)].ravel()[0]
            raise ValueError(f"{name} must hold only 0 and 1, got {bad!r}")
        arr = arr.astype(bool)
        empty = np.flatnonzero(~arr.any(axis=1))
        if empty.size:
            raise ValueError(f"{name} has all-zero rows {empty.tolist()[:8]}: those units would have no inputs")
        out.append(arr)
    return out


def check_ties(ties, shapes, masks, bias: bool) -> list[tuple[np.ndarray, np.ndarray | None] | None]:
    """Per-layer tie labels (W labels (d_out, d_in), b labels (d_out,) or None), as int64 arrays; -1 = untied."""
    if ties is None:
        return [None] * len(shapes)
    if isinstance(ties, np.ndarray) or not hasattr(ties, "__len__"):
        raise TypeError(
            f"ties must be a list with one entry (a pair of arrays or None) per layer, got {type(ties).__name__}"
        )
    if len(ties) != len(shapes):
        raise ValueError(f"ties must have one entry per weight layer ({len(shapes)}), got {len(ties)}")
    out = []
    for layer, (tie, shape, mask) in enumerate(zip(ties, shapes, masks, strict=True)):
        if tie is None:
            out.append(None)
            continue
        if not isinstance(tie, tuple | list) or len(tie) != 2:
            raise TypeError(f"ties[{layer}] must be a pair (weight labels, bias labels or None)")
        w_labels = _labels(tie[0], f"ties[{layer}][0]", shape)
        b_labels = None if tie[1] is None else _labels(tie[1], f"ties[{layer}][1]", (shape[0],))
        if b_labels is not None and not bias:
            raise ValueError(f"ties[{layer}][1] ties biases, but the network has no biases")
        if mask is not None and np.any(w_labels[~mask] >= 0):
            raise ValueError(f"ties[{layer}][0] labels masked weights; masked entries must have label -1")
        out.append((w_labels, b_labels))
    return out


def _labels(value, name: str, shape) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of tie labels (-1: untied), got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if arr.size and arr.min() < -1:
        raise ValueError(f"{name} must hold labels >= -1 (-1: untied), got {arr.min()}")
    return arr.astype(np.int64)


def param_groups(shapes, bias: bool, masks, ties) -> tuple[np.ndarray, int]:
    """The group of every entry of the flat layout (-1: masked) and the number of groups (free parameters)."""
    parts, next_group = [], 0
    for (o, i), mask, tie in zip(shapes, masks, ties, strict=True):
        blocks = [(np.ones((o, i), bool) if mask is None else mask, None if tie is None else tie[0])]
        if bias:
            blocks.append((np.ones(o, bool), None if tie is None else tie[1]))
        for free, labels in blocks:
            group = np.full(free.shape, -1, dtype=np.int64)
            untied = free if labels is None else free & (labels < 0)
            count = int(untied.sum())
            group[untied] = next_group + np.arange(count)
            next_group += count
            if labels is not None:
                tied = free & (labels >= 0)
                uniq, inverse = np.unique(labels[tied], return_inverse=True)
                group[tied] = next_group + inverse
                next_group += uniq.size
            parts.append(group.ravel())
    return np.concatenate(parts), next_group


def project(params: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """The nearest structured parameters: masked entries 0, each tied group replaced by its mean."""
    free = group >= 0
    sums = np.zeros(params.shape[:-1] + (groups,), dtype=np.float64)
    counts = np.bincount(group[free], minlength=groups).astype(np.float64)
    np.add.at(sums, (..., group[free]), params[..., free].astype(np.float64))
    out = np.zeros_like(params)
    out[..., free] = (sums / counts)[..., group[free]]
    return out


def check_structured(params: np.ndarray, group: np.ndarray, groups: int, name: str) -> None:
    """Raise ValueError unless masked entries are exactly 0 and tied entries exactly equal."""
    masked = group < 0
    if np.any(params[..., masked] != 0):
        raise ValueError(f"{name} has nonzero masked weights; start from MLP.init or MLP.project(params)")
    free = ~masked
    _, first_in_free = np.unique(group[free], return_index=True)  # groups are 0..groups-1, all present
    first = np.flatnonzero(free)[first_in_free]  # flat index of each group's first member
    if np.any(params[..., free] != params[..., first[group[free]]]):
        raise ValueError(f"{name} has tied weights that differ; start from MLP.init or MLP.project(params)")
