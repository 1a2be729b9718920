"""PyTorch samplers that yield optcore's exact orders (docs/torch.md).

Epochs. A sampler counts its epochs itself: every new iterator (every ``for batch in loader``) starts the next
epoch, so two passes over a DataLoader are two different epochs even when ``set_epoch`` is never called (the
mistake that makes ``torch.utils.data.DistributedSampler`` repeat one permutation forever). ``set_epoch(k)`` still
works: the next iterator then runs epoch k. ``state_dict()`` records the epoch and how many of its indices were
handed out; after ``load_state_dict`` the next iterator continues that epoch at the exact next index.

Indices. ``indices(k)`` is computed by :func:`optcore.epoch_orders` (``first_epoch=k``, one epoch, no earlier
ones), so it is the engine's epoch k of run ``run`` with key ``seed``, for worker ``rank`` of ``world_size``
(``workers=M`` in :func:`optcore.run_sgd`; rank m owns examples m N .. m N + N - 1, N = n / M, and the indices
returned are global: m N + the engine's local index).
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np
import torch
from torch.utils.data import Sampler

from .._seeds import resolve_keys, resolve_run_ids
from .._validation import integer
from ..orders import canonical_order, epoch_orders, explicit_order_array
from ..shuffling.grab import GradientBalancer
from .gradients import flat_gradients


def _dataset_size(data_source) -> int:
    if isinstance(data_source, Sized) and not isinstance(data_source, str):
        n = len(data_source)
    else:
        n = data_source
    return integer(n, "data_source (a dataset or its size)", minimum=1)


class _EpochCounter(Sampler[int]):
    """The epoch and position bookkeeping shared by the samplers; subclasses give ``_order(epoch)``."""

    def __init__(self, n: int, *, seed, run: int):
        super().__init__()
        self.n = n
        self.seed = int(resolve_keys(seed, 1)[0])  # None or a Generator: a key drawn now, kept for replay
        self.run = int(resolve_run_ids([run], 1)[0])
        self._epoch = 0  # the epoch in progress, or the next one when _pending
        self._position = 0  # indices of _epoch handed out
        self._pending = True  # the next iterator runs _epoch from _position (no advance)
        self._iterator_id = 0  # only the newest iterator moves the position
        self._current: tuple[int, np.ndarray] | None = None  # (epoch, its indices), cached

    # -- to be provided by subclasses -------------------------------------------------------------------------
    def _order(self, epoch: int) -> np.ndarray:
        raise NotImplementedError

    def _identity(self) -> dict:
        raise NotImplementedError

    # -- epochs -----------------------------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        """The epoch in progress (or the one the next iterator starts, before any iteration / after ``set_epoch``)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Make the next iterator run epoch ``epoch`` from its start (optional: iterators advance by themselves)."""
        self._epoch = integer(epoch, "epoch", minimum=0, maximum=2**32 - 1)
        self._position = 0
        self._pending = True

    def _epoch_indices(self, epoch: int) -> np.ndarray:
        if self._current is None or self._current[0] != epoch:
            self._current = (epoch, self._order(epoch))
        return self._current[1]

    def __len__(self) -> int:
        return len(self._epoch_indices(self._epoch))

    def __iter__(self) -> Iterator[int]:
        if not self._pending:
            self._advance()
        self._pending = False
        self._iterator_id += 1
        return self._generate(self._iterator_id, self._epoch_indices(self._epoch), self._position)

    def _advance(self) -> None:
        self._epoch += 1
        self._position = 0

    def _generate(self, iterator_id: int, order: np.ndarray, start: int) -> Iterator[int]:
        for i in range(start, len(order)):
            if iterator_id == self._iterator_id:
                self._position = i + 1
            yield int(order[i])

    # -- checkpoints ------------------------------------------------------------------------------------------
    def _resume_point(self) -> tuple[int, int]:
        """(epoch, position) the next iterator should start from after a checkpoint taken now."""
        if not self._pending and self._position >= len(self._epoch_indices(self._epoch)):
            return self._epoch + 1, 0  # the epoch is finished: a resumed run starts the next one
        return self._epoch, self._position

    def state_dict(self) -> dict:
        """The sampler's state: its identity (to check on load), the epoch and the next index's position.

        Plain Python values (and tensors for GraB), so ``torch.save`` / ``torch.load(weights_only=True)`` keep it.

        With a multi-process DataLoader, which asks for indices ahead of the training loop, the position counts
        the prefetched indices too; save the state when the loader is drained or use ``num_workers=0``.
        """
        epoch, position = self._resume_point()
        return {**self._identity(), "epoch": epoch, "position": position}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`: the next iterator continues its epoch at its position."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        mine = self._identity()
        different = {k: (state.get(k), v) for k, v in mine.items() if state.get(k) != v}
        if different:
            raise ValueError(f"this state belongs to another sampler: (saved, this sampler) differ in {different}")
        epoch = integer(state.get("epoch"), "state['epoch']", minimum=0, maximum=2**32 - 1)
        count = len(self._epoch_indices(epoch))
        self._epoch = epoch
        self._position = integer(state.get("position"), "state['position']", minimum=0, maximum=count)
        self._pending = True


def _host(value):
    """A checkpoint's array (a tensor, or an array from older code) as NumPy."""
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


class OrderSampler(_EpochCounter):
    """A :class:`torch.utils.data.Sampler` yielding one of optcore's orders, for one rank of ``world_size``.

    Parameters
    ----------
    data_source : Dataset or int
        The dataset (its ``len``) or the number of examples n.
    order : str
        An order of :mod:`optcore.orders` (or an alias): ``"with_replacement"``, ``"random_reshuffling"``,
        ``"single_shuffle"``, ``"incremental"``, ``"flipflop_rr"`` / ``"_ss"`` / ``"_ig"``, ``"syncshuf"`` or
        ``"explicit"`` (with ``orders=``).
    seed : int, numpy.random.Generator or None
        The Philox key (0 <= seed < 2^64), as in :func:`optcore.run_sgd`; None or a Generator draws one now
        (kept in ``sampler.seed``).
    run : int
        The stream id: the sampler replays run ``run`` of an engine call with this seed.
    rank, world_size : int
        This process's worker m and the number of workers M (``workers=M`` of the engine's minibatch mode; M must
        divide n). Every rank uses the same seed and run.
    base_order : array (N,), optional
        The base permutation of ``"incremental"`` and ``"flipflop_ig"`` (local indices).
    orders : array, optional
        For ``order="explicit"``, local indices in [0, N): (N,) for every epoch, (K, N) for epochs 0..K-1 (all
        ranks) or (K, M, N) (one row per rank).

    Notes
    -----
    ``len(sampler)`` is N = n / M; iteration yields global indices (``rank * N`` + the engine's local index).
    """

    def __init__(
        self,
        data_source,
        order: str = "random_reshuffling",
        *,
        seed=0,
        run: int = 0,
        rank: int = 0,
        world_size: int = 1,
        base_order=None,
        orders=None,
    ):
        n = _dataset_size(data_source)
        super().__init__(n, seed=seed, run=run)
        self.order = canonical_order(order)
        self.world_size = integer(world_size, "world_size", minimum=1)
        self.rank = integer(rank, "rank", minimum=0, maximum=self.world_size - 1)
        if n % self.world_size:
            raise ValueError(
                f"world_size M = {self.world_size} must divide the number of examples n = {n} (each rank owns "
                "n / M of them, as the engine's workers do); drop or pad examples to a multiple of M"
            )
        self.per_rank = n // self.world_size
        self.base_order = None if base_order is None else np.array(base_order, dtype=np.int64)
        self._explicit = None
        if orders is not None:
            arr = np.asarray(orders)
            if arr.ndim == 3:  # (K, M, N): add the run axis
                arr = arr[None]
            elif arr.ndim not in (1, 2):
                raise ValueError(f"orders must have shape (N,), (K, N) or (K, M, N), got {arr.shape}")
            epochs = 1 if arr.ndim == 1 else arr.shape[-3] if arr.ndim == 4 else arr.shape[0]
            self._explicit = explicit_order_array(
                arr, runs=1, epochs=epochs, workers=self.world_size, per_worker=self.per_rank
            )
        # validates order / base_order / orders together, exactly as the engine does
        self._order(0)

    def _identity(self) -> dict:
        return {
            "kind": "OrderSampler",
            "order": self.order,
            "n": self.n,
            "seed": self.seed,
            "run": self.run,
            "rank": self.rank,
            "world_size": self.world_size,
            "base_order": None if self.base_order is None else self.base_order.tolist(),
        }

    def _order(self, epoch: int) -> np.ndarray:
        explicit = None
        if self._explicit is not None:
            ke = self._explicit.shape[1]
            if ke > 1 and epoch >= ke:
                raise ValueError(f"the explicit orders cover epochs 0..{ke - 1}; epoch {epoch} has no order")
            explicit = self._explicit[:, 0 if ke == 1 else epoch][:, None]
        local = epoch_orders(
            self.order,
            self.n,
            1,
            seed=self.seed,
            run_ids=[self.run],
            workers=self.world_size,
            base_order=self.base_order,
            orders=explicit,
            first_epoch=epoch,
        )[0, 0, self.rank]
        return local + self.rank * self.per_rank

    def indices(self, epoch: int) -> np.ndarray:
        """The global indices of epoch ``epoch`` for this rank: int64 (N,).

        Equal, bit for bit, to ``rank * N + optcore.epoch_orders(order, n, K, seed=seed, run_ids=[run],
        workers=world_size)[0, epoch, rank]`` for any K > epoch.
        """
        return self._epoch_indices(integer(epoch, "epoch", minimum=0, maximum=2**32 - 1)).copy()


class OrderBatchSampler(Sampler[list[int]]):
    """Batches of a sampler's order: step s of an epoch gets entries s B .. s B + B - 1, as in the engine.

    Use it as ``DataLoader(dataset, batch_sampler=OrderBatchSampler(sampler, B))``.

    Parameters
    ----------
    sampler : OrderSampler or GraBSampler
        The order; its epoch counting, ``set_epoch`` and checkpoints are the batch sampler's.
    batch_size : int
        B (per rank).
    drop_last : bool
        Skip the last N mod B indices of each epoch (the engine's ``remainder="drop"``); default: a last, smaller
        batch (``remainder="partial"``).
    """

    def __init__(self, sampler: _EpochCounter, batch_size: int, *, drop_last: bool = False):
        super().__init__()
        if not isinstance(sampler, _EpochCounter):
            raise TypeError(f"sampler must be an OrderSampler or GraBSampler, got {type(sampler).__name__}")
        self.sampler = sampler
        self.batch_size = integer(batch_size, "batch_size", minimum=1)
        if not isinstance(drop_last, bool):
            raise TypeError(f"drop_last must be a bool, got {type(drop_last).__name__}")
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)  # starts (or resumes) the sampler's epoch now, not at the first next()
        return self._batches(indices)

    def _batches(self, indices: Iterator[int]) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in indices:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def epoch(self) -> int:
        """The sampler's epoch."""
        return self.sampler.epoch

    def set_epoch(self, epoch: int) -> None:
        """The sampler's :meth:`~OrderSampler.set_epoch`."""
        self.sampler.set_epoch(epoch)

    def indices(self, epoch: int) -> np.ndarray:
        """The sampler's indices of epoch ``epoch`` (all of them; the batches are consecutive slices)."""
        return self.sampler.indices(epoch)

    def state_dict(self) -> dict:
        """The sampler's state (see :meth:`OrderSampler.state_dict`) and the batch size."""
        return {**self.sampler.state_dict(), "batch_size": self.batch_size, "drop_last": self.drop_last}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; the next iterator continues at the next batch."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        if (state.get("batch_size"), state.get("drop_last")) != (self.batch_size, self.drop_last):
            raise ValueError(
                f"this state was saved with batch_size={state.get('batch_size')}, drop_last={state.get('drop_last')}; "
                f"this batch sampler has {self.batch_size}, {self.drop_last}"
            )
        self.sampler.load_state_dict({k: v for k, v in state.items() if k not in ("batch_size", "drop_last")})


class GraBSampler(_EpochCounter):
    """Online Gradient Balancing orders (GraB; Lu, Guo, De Sa, NeurIPS 2022) for a PyTorch training loop.

    Epoch 0 is random reshuffling's epoch 0 for ``(seed, run)``. During each epoch the training loop hands the
    sampler the per-example gradients of every batch it trained on (:meth:`feed`, in the order the indices were
    yielded); each is centred by the previous epoch's mean gradient and signed to keep the running signed sum
    small, and the next epoch visits the +1 examples in visit order, then the -1 examples in reverse visit order
    (:class:`optcore.shuffling.grab.GradientBalancer`, the engine-side GraB's balancing). The order of epoch k + 1
    exists once all n gradients of epoch k are in; a new iterator before that raises ``RuntimeError``.

    Parameters
    ----------
    data_source : Dataset or int
        The dataset or its size n.
    seed : int, numpy.random.Generator or None
        The Philox key of epoch 0's permutation.
    run : int
        Its stream id.

    Notes
    -----
    Memory is O(P) for the balancing sums (P parameters) plus O(n) for the order, as in the paper's online form.
    One process balances all n examples (no ``rank`` / ``world_size``).
    """

    def __init__(self, data_source, *, seed=0, run: int = 0):
        n = _dataset_size(data_source)
        super().__init__(n, seed=seed, run=run)
        self._order_now = epoch_orders("random_reshuffling", n, 1, seed=self.seed, run_ids=[self.run])[0, 0, 0]
        self._next_order: np.ndarray | None = None
        self._fed = 0
        self._balancer: GradientBalancer | None = None  # created on the first feed (it learns P there)

    def _identity(self) -> dict:
        return {"kind": "GraBSampler", "n": self.n, "seed": self.seed, "run": self.run}

    def _order(self, epoch: int) -> np.ndarray:
        if epoch == self._epoch:
            return self._order_now
        if epoch == self._epoch + 1 and self._next_order is not None:
            return self._next_order
        known = f"{self._epoch}" + (f" and {self._epoch + 1}" if self._next_order is not None else "")
        raise ValueError(f"GraB orders depend on the gradients: only epoch {known} is known now, not {epoch}")

    def indices(self, epoch: int) -> np.ndarray:
        """The indices of epoch ``epoch``: the current one, or the next once all its gradients were fed."""
        return self._order(integer(epoch, "epoch", minimum=0)).copy()

    def _advance(self) -> None:
        if self._next_order is None:
            raise RuntimeError(
                f"GraB needs the gradients of all n = {self.n} examples of epoch {self._epoch} before epoch "
                f"{self._epoch + 1} starts (got {self._fed}): call sampler.feed(per_example_gradients) after "
                "every step"
            )
        self._order_now, self._next_order = self._next_order, None
        self._current = None
        self._fed = 0
        super()._advance()

    def set_epoch(self, epoch: int) -> None:
        """Restart the current epoch (``epoch == sampler.epoch``) or move on to the next one (``epoch + 1``)."""
        epoch = integer(epoch, "epoch", minimum=0)
        if epoch == self._epoch + 1:
            self._advance()  # raises unless all gradients of the current epoch are in
        elif epoch == self._epoch and self._next_order is None:
            if self._balancer is not None:  # a partly balanced epoch starts over
                self._balancer.reset_epoch()
            self._fed = 0
            self._position = 0
        elif epoch == self._epoch:
            raise ValueError(
                f"all gradients of epoch {epoch} are in and epoch {epoch + 1} is balanced: call set_epoch({epoch + 1})"
            )
        else:
            raise ValueError(
                f"GraB orders come from the previous epoch's gradients: set_epoch can repeat epoch {self._epoch} "
                f"or move to {self._epoch + 1}, not jump to {epoch}"
            )
        self._pending = True

    def feed(self, grads) -> None:
        """Hand in the per-example gradients of the examples trained on since the last call, in yielded order.

        Parameters
        ----------
        grads : tensor or array (b, P), or a sequence / dict of tensors (b, ...)
            Row i: the gradient of the i-th of the next b yielded examples, at the weights it was computed at
            (e.g. :func:`optcore.torch.per_example_gradients` before the optimizer step).
        """
        if isinstance(grads, np.ndarray):
            flat = np.asarray(grads, dtype=np.float64)
            if flat.ndim != 2:
                raise ValueError(f"grads must be 2-D (b, P) when an array, got shape {flat.shape}")
        else:
            flat = flat_gradients(grads).to(device="cpu", dtype=torch.float64).numpy()
        b, dim = flat.shape
        if self._next_order is not None:
            raise ValueError(f"all n = {self.n} gradients of epoch {self._epoch} were fed already")
        handed_out = self._position if not self._pending else self._fed
        if self._fed + b > handed_out:
            raise ValueError(
                f"got gradients of {b} examples but only {handed_out - self._fed} yielded examples of epoch "
                f"{self._epoch} await theirs"
            )
        if self._balancer is None:
            self._balancer = GradientBalancer(1, dim)
        elif dim != self._balancer.dim:
            raise ValueError(f"gradients must have P = {self._balancer.dim} entries per example, got {dim}")
        visited = self._order_now[self._fed : self._fed + b]
        self._balancer.add(visited[None], flat[None])
        self._fed += b
        if self._fed == self.n:
            self._next_order = self._balancer.next_order()[0]

    def state_dict(self) -> dict:
        """Identity, epoch, position (the examples whose gradients were fed), orders and balancing state."""
        if self._next_order is not None:  # epoch finished: the next iterator starts the balanced epoch
            epoch, position, order = self._epoch + 1, 0, self._next_order
        else:
            epoch, position, order = self._epoch, self._fed, self._order_now
        balancer = None
        if self._balancer is not None:  # tensors, so that torch.load(weights_only=True) reads the checkpoint
            balancer = {k: torch.from_numpy(v.copy()) for k, v in self._balancer.state_dict().items()}
        return {
            **self._identity(),
            "epoch": epoch,
            "position": position,
            "order": torch.from_numpy(order.copy()),
            "balancer": balancer,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`: the next iterator continues at the first example not yet fed."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        mine = self._identity()
        different = {k: (state.get(k), v) for k, v in mine.items() if state.get(k) != v}
        if different:
            raise ValueError(f"this state belongs to another sampler: (saved, this sampler) differ in {different}")
        order = np.array(_host(state["order"]), dtype=np.int64)
        if order.shape != (self.n,) or not np.array_equal(np.sort(order), np.arange(self.n)):
            raise ValueError(f"state['order'] must be a permutation of 0..{self.n - 1}")
        epoch = integer(state.get("epoch"), "state['epoch']", minimum=0)
        position = integer(state.get("position"), "state['position']", minimum=0, maximum=self.n - 1)
        balancer = None
        if state.get("balancer") is not None:
            saved = {k: _host(v) for k, v in state["balancer"].items()}
            balancer = GradientBalancer(1, np.asarray(saved["stale_mean"]).shape[-1])
            balancer.load_state_dict(saved)
            if balancer.count != position or not np.array_equal(balancer.state_dict()["visited"][0], order[:position]):
                raise ValueError("state['balancer'] does not match the examples fed in state['order'][:position]")
        elif position:
            raise ValueError("state has a position but no balancing state")
        self._epoch, self._position, self._fed = epoch, position, position
        self._order_now, self._next_order, self._balancer = order, None, balancer
        self._current = None
        self._pending = True
