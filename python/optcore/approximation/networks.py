"""Networks for the approximation study: binary-tree locally connected ReLU nets and parameter-matched shallow nets.

A tree network on n = 2^L inputs has one node per constituent of the compositional target (n - 1 nodes). Each
node is a small one-hidden-layer ReLU net: ``units`` hidden units over its two children's outputs, then
``channels`` ReLU outputs that its parent reads (the root's single output is linear). With ``channels=2`` a node
can pass any scalar up exactly (t = relu(t) - relu(-t)), so the net can realize the Mhaskar-Poggio construction of
THEORY.md 5.1: units per node is the width knob, and free parameters grow linearly in it, as the shallow net's do
in its width. ``channels=None`` instead connects every hidden unit of a node to all hidden units of its two
children (the "convolutional without weight sharing" shape; parameters grow as units^2).

Connectivity is a 0/1 mask per layer of an :class:`optcore.nn.MLP`, so the tree trains through the same engine as
a fully connected net. ``shared=True`` ties all nodes of one tree level (a convolution with stride 2).
"""

from __future__ import annotations

import numpy as np

from .._validation import integer
from ..nn import MLP
from .targets import tree_inputs


def _block_mask(nodes: int, rows_per_node: int, cols_per_node: int, fan: int) -> np.ndarray:
    """Node j's rows see the columns of its `fan` children (j*fan .. j*fan + fan - 1)."""
    mask = np.zeros((nodes * rows_per_node, nodes * fan * cols_per_node), dtype=np.int8)
    for j in range(nodes):
        mask[j * rows_per_node : (j + 1) * rows_per_node, j * fan * cols_per_node : (j + 1) * fan * cols_per_node] = 1
    return mask


def _node_ties(nodes: int, rows_per_node: int, cols_per_node: int, fan: int) -> tuple[np.ndarray, np.ndarray]:
    """Tie labels making every node of a layer share its (rows x fan*cols) block and its biases."""
    block = fan * cols_per_node
    w = -np.ones((nodes * rows_per_node, nodes * block), dtype=np.int64)
    local = np.arange(rows_per_node * block).reshape(rows_per_node, block)
    for j in range(nodes):
        w[j * rows_per_node : (j + 1) * rows_per_node, j * block : (j + 1) * block] = local
    return w, np.tile(np.arange(rows_per_node), nodes)


def tree_network(n: int, *, units: int, channels: int | None = 2, shared: bool = False, dtype=np.float64) -> MLP:
    """A binary-tree, locally connected ReLU network on n = 2^L inputs (one output, squared loss).

    Parameters
    ----------
    n : int
        Inputs, a power of two.
    units : int
        Hidden ReLU units per node.
    channels : int or None
        ReLU outputs per non-root node that its parent reads; None: parents read the children's hidden units.
    shared : bool
        Tie the weights and biases of all nodes at each tree level (weight sharing).
    dtype : float32 or float64

    Returns
    -------
    optcore.nn.MLP
        With ``masks`` (and ``ties`` when shared); ``n_free_params`` counts the free parameters.
    """
    levels = tree_inputs(n)
    units = integer(units, "units", minimum=1)
    if channels is not None:
        channels = integer(channels, "channels", minimum=1)
    widths, masks, ties = [n], [], []
    reads = 1  # values per child that a node reads (1 for the inputs)
    for level in range(levels):
        nodes = n >> (level + 1)
        widths.append(nodes * units)
        masks.append(_block_mask(nodes, units, reads, 2))
        ties.append(_node_ties(nodes, units, reads, 2) if shared else None)
        reads = units
        if level < levels - 1 and channels is not None:  # the node's outputs, read by its parent
            widths.append(nodes * channels)
            masks.append(_block_mask(nodes, channels, units, 1))
            ties.append(_node_ties(nodes, channels, units, 1) if shared else None)
            reads = channels
    widths.append(1)
    masks.append(None)  # the root's units to the linear output
    ties.append(None)
    return MLP(widths, activation="relu", loss="squared", masks=masks, ties=ties if shared else None, dtype=dtype)


def shallow_network(n: int, *, width: int, dtype=np.float64) -> MLP:
    """A one-hidden-layer ReLU network n -> width -> 1 ((n + 2) width + 1 parameters)."""
    return MLP([integer(n, "n", minimum=1), integer(width, "width", minimum=1), 1], loss="squared", dtype=dtype)


def tree_units_for_budget(n: int, budget: int, *, channels: int | None = 2, shared: bool = False) -> int:
    """The units per node whose tree network's free-parameter count is closest to ``budget`` (at least 1)."""
    budget = integer(budget, "budget", minimum=1)
    best, best_gap, units = 1, None, 1
    while True:
        count = tree_network(n, units=units, channels=channels, shared=shared).n_free_params
        gap = abs(np.log(count / budget))
        if best_gap is None or gap < best_gap:
            best, best_gap = units, gap
        if count > budget:
            return best
        units += 1


def shallow_width_for_budget(n: int, budget: int) -> int:
    """The hidden width whose shallow network's parameter count (n + 2) w + 1 is closest to ``budget``."""
    budget = integer(budget, "budget", minimum=1)
    return max(1, round((budget - 1) / (n + 2)))
