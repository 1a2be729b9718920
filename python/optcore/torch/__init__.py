"""optcore's orders in a PyTorch training loop: samplers that yield exactly the indices the engine visits.

:class:`OrderSampler` (one index at a time) and :class:`OrderBatchSampler` (lists of indices) give a
:class:`torch.utils.data.DataLoader` any order of :mod:`optcore.orders` -- with replacement, random reshuffling,
single shuffle, incremental, the FlipFlop variants, SyncShuf and explicit orders -- for one rank of a distributed
job or a single process. :class:`GraBSampler` reorders by online gradient balancing (GraB) from the per-example
gradients the training loop hands it (:func:`per_example_gradients` computes them with ``torch.func``).

The indices come from :func:`optcore.epoch_orders` itself, so ``sampler.indices(k)`` is epoch k of the engine's
run ``run`` with key ``seed``, bit for bit. Each new iterator starts the next epoch (no ``set_epoch`` to forget);
``state_dict()`` / ``load_state_dict()`` resume mid-epoch at the exact next index.

Needs PyTorch (``pip install optcore[torch]``); nothing else in optcore imports it.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "optcore.torch needs PyTorch (torch >= 2.1): install it with `pip install optcore[torch]`"
    ) from exc

from .gradients import flat_gradients, per_example_gradients
from .samplers import GraBSampler, OrderBatchSampler, OrderSampler

__all__ = ["GraBSampler", "OrderBatchSampler", "OrderSampler", "flat_gradients", "per_example_gradients"]
