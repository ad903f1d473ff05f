"""The peak memory of a PyTorch CPU training step, measured by PyTorch's own profiler: the
figure the cost model's ``memory="torch"`` predicts (:mod:`tallynet.cost.torch_memory`).

Needs torch (``pip install 'tallynet[torch]'``), imported when a function is called.
"""

import numpy as np


def _loss_function(loss):
    import torch.nn.functional as F

    functions = {"softmax": F.cross_entropy, "mse": lambda scores, y: F.mse_loss(scores, y, reduction="sum"),
                 "svm": F.multi_margin_loss}
    if loss not in functions:
        raise ValueError(f"loss must be one of {', '.join(functions)}, got {loss!r}")
    return functions[loss]


def tensors_bytes(tensors):
    """The bytes of the storages behind ``tensors``, each storage once (views share theirs)."""
    storages = {}
    for t in tensors:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def _allocations(prof):
    """The CPU allocation events of a finished profile as (time in ns, bytes; negative: a free)."""
    try:
        events = prof.profiler.kineto_results.events()
        return sorted((e.start_ns(), e.nbytes()) for e in events
                      if e.name() == "[memory]" and e.device_type().name == "CPU")
    except AttributeError as err:  # pragma: no cover - depends on torch's version
        raise RuntimeError(f"this version of torch's profiler does not give its memory events as 2.13 does: {err}") \
            from None


def _running_peak(sizes):
    """``(peak, end)`` of the running sum of allocation sizes (frees negative) from 0."""
    running = np.cumsum(np.fromiter(sizes, dtype=np.int64))
    return (max(int(running.max()), 0), int(running[-1])) if running.size else (0, 0)


def measure_torch_step_peak(net, X, y, optimizer, loss="softmax", warmup_steps=1):
    """Peak bytes of one training step of ``net`` on the batch ``(X, y)`` (torch tensors) with
    ``optimizer``, measured with ``torch.profiler.profile(profile_memory=True)`` on the CPU.

    The step measured is a later one, as every step of a training but the first: after
    ``warmup_steps`` full steps (the optimizer's state then exists: momentum's buffer, Adam's
    moments), ``optimizer.zero_grad(set_to_none=True)`` frees the gradients, then the
    profiler records forward, ``loss``'s function (``"softmax"``: cross_entropy, ``"mse"``:
    mse_loss summed, ``"svm"``: multi_margin_loss), backward and ``optimizer.step()``.
    zero_grad runs just before the profiler starts because the profiler reports no free of
    a block allocated before it started; it only frees, so the peak is the same.

    Returns a dict: ``before_bytes`` (the tensors alive before the step: parameters, buffers,
    optimizer state and the batch, each storage once), ``step_bytes`` (the largest running
    sum of the step's allocation events, in time order, positive and negative sizes),
    ``peak_bytes`` (their sum), ``end_bytes`` (the running sum at the end: the gradients
    allocated) and ``events``.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile

    criterion = _loss_function(loss)

    def step():
        criterion(net(X), y).backward()
        optimizer.step()

    net.train()
    for _ in range(warmup_steps):
        optimizer.zero_grad(set_to_none=True)
        step()
    optimizer.zero_grad(set_to_none=True)
    state = [v for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v)]
    before = tensors_bytes([*net.parameters(), *net.buffers(), *state, X, y])
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    allocations = _allocations(prof)
    peak, end = _running_peak(n for _, n in allocations)
    return {"before_bytes": before, "step_bytes": peak, "peak_bytes": before + peak, "end_bytes": end,
            "events": len(allocations)}


def measure_model_step_peak(model, batch, optimizer="sgd", seed=0):
    """:func:`measure_torch_step_peak` of a tallynet model's twin (``to_torch``: same layers and
    weights) on a random batch of ``batch`` samples (class labels, or mse targets), with
    PyTorch's optimizer of the tallynet rule ``optimizer`` (``torch_bridge.optimizer``)."""
    import torch

    from ..torch_bridge import optimizer as torch_optimizer, to_torch

    net = to_torch(model)
    rng = np.random.default_rng(seed)
    dtype = np.dtype(model.dtype)
    X = torch.from_numpy(rng.standard_normal((batch,) + tuple(model.input_shape)).astype(dtype))
    loss = getattr(model, "loss_name", "softmax")
    y = torch.from_numpy(rng.standard_normal((batch,) + tuple(model.output_shape)).astype(dtype) if loss == "mse"
                         else rng.integers(model.output_shape[-1], size=batch))
    return measure_torch_step_peak(net, X, y, torch_optimizer(optimizer, net.parameters()), loss)


# --- one layer's twin ---------------------------------------------------------------------------------
def _layer_twin(layer, input_shape, dtype, seed=0):
    """The twin of ``layer`` with fresh parameters, in train mode, and inputs requiring gradients."""
    import torch

    rng = np.random.default_rng(seed)
    params = layer.init_params(input_shape, rng, "he", dtype)
    layer.reset_state(input_shape, dtype)
    twin = torch.nn.Sequential(*layer.to_torch(input_shape, {k: torch.from_numpy(v.copy()) for k, v in params.items()},
                                               torch.nn)).to(getattr(torch, np.dtype(dtype).name)).train()
    shapes = input_shape if isinstance(input_shape, list) else [input_shape]
    xs = [torch.from_numpy(rng.standard_normal(s).astype(dtype)).requires_grad_() for s in shapes]
    return twin, xs


def _run(twin, xs):
    return twin(xs[0] if len(xs) == 1 else xs)


def autograd_saved(layer, input_shape, dtype=np.float32):
    """What PyTorch's autograd saves in the forward pass of ``layer``'s twin, as it packs it
    (``torch.autograd.graph.saved_tensors_hooks``): a list of ``(name, elements, dtype name)``,
    the name being ``"input"`` (``"input0"``, ... for a merge), ``"output"``, a parameter's or a
    buffer's local name (``"W"``, ``"running_mean"``) for a tensor sharing that one's storage
    (a view: a flattened input, a transposed weight), and None for a tensor of its own."""
    import torch

    twin, xs = _layer_twin(layer, input_shape, dtype)
    names = {x.untyped_storage().data_ptr(): "input" if len(xs) == 1 else f"input{k}" for k, x in enumerate(xs)}
    names.update((p.untyped_storage().data_ptr(), n) for n, p in zip(layer.param_names, twin.parameters()))
    names.update((b.untyped_storage().data_ptr(), n.rsplit(".", 1)[-1]) for n, b in twin.named_buffers())
    packed = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or t, lambda t: t):
        out = _run(twin, xs)
    names.setdefault(out.untyped_storage().data_ptr(), "output")
    return [(names.get(t.untyped_storage().data_ptr()), t.numel(), str(t.dtype).replace("torch.", ""))
            for t in packed]


def measure_torch_layer(layer, input_shape, dtype=np.float32):
    """``(kept bytes, forward peak, backward peak)`` of ``layer``'s twin, measured with the
    profiler as :meth:`Layer.torch_footprint` states them: what the forward pass leaves
    allocated besides its output, the most it holds at once above what existed before it, and
    the same for backward above dout (dx and the parameters' ``.grad`` included). The inputs
    require gradients (a full backward pass)."""
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    twin, xs = _layer_twin(layer, input_shape, dtype)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        with record_function("tallynet.forward"):
            out = _run(twin, xs)
        dout = torch.ones_like(out)
        with record_function("tallynet.backward"):
            out.backward(dout)
    events = prof.profiler.kineto_results.events()
    spans = {e.name(): (e.start_ns(), e.end_ns()) for e in events if e.name().startswith("tallynet.")}
    allocations = _allocations(prof)
    measured = []
    for phase in ("tallynet.forward", "tallynet.backward"):
        start, end = spans[phase]
        measured.append(_running_peak(n for t, n in allocations if start <= t <= end))
    (forward, left), (backward, _) = measured
    shares_input = any(out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() for x in xs)
    return left - (0 if shares_input else out.untyped_storage().nbytes()), forward, backward
