"""Per-example gradients of a PyTorch model, flattened to one row per example: what :class:`GraBSampler` balances."""

from __future__ import annotations

import torch


def flat_gradients(grads) -> torch.Tensor:
    """Concatenate per-example gradients of several parameters into one (b, P) tensor.

    Parameters
    ----------
    grads : tensor (b, ...) or sequence / dict of tensors (b, ...)
        Per-example gradients, the first axis running over the examples of a batch (dict values in their order).

    Returns
    -------
    torch.Tensor
        (b, P): row i is example i's gradient, flattened.
    """
    if isinstance(grads, torch.Tensor):
        grads = [grads]
    elif isinstance(grads, dict):
        grads = list(grads.values())
    else:
        grads = list(grads)
    if not grads or not all(isinstance(g, torch.Tensor) for g in grads):
        raise TypeError("grads must be a tensor (b, ...) or a non-empty sequence or dict of tensors (b, ...)")
    if any(g.ndim == 0 for g in grads):
        raise ValueError("per-example gradients need a leading batch axis; got a 0-d tensor")
    b = grads[0].shape[0]
    if any(g.shape[0] != b for g in grads):
        raise ValueError(f"all gradients must have the same batch size; got {[g.shape[0] for g in grads]}")
    return torch.cat([g.detach().reshape(b, -1) for g in grads], dim=1)


def per_example_gradients(model: torch.nn.Module, loss_fn, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The gradient of ``loss_fn`` on each example of a batch, with respect to the model's trainable parameters.

    Computed with ``torch.func`` (``vmap`` of ``grad`` of a ``functional_call``): one pass, no per-example loop.

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets)`` on a batch of one (e.g. ``torch.nn.functional.cross_entropy``).
    inputs, targets : torch.Tensor
        A batch: (b, ...) each.

    Returns
    -------
    torch.Tensor
        (b, P), P the number of trainable parameters; rows are detached.
    """
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss_of_one(p, x, y):
        out = functional_call(model, (p, buffers), (x.unsqueeze(0),))
        return loss_fn(out, y.unsqueeze(0))

    per_param = vmap(grad(loss_of_one), in_dims=(None, 0, 0))(params, inputs, targets)
    return flat_gradients(per_param)
