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
    sizes = np.array([n for _, n in _allocations(prof)], dtype=np.int64)
    running = np.cumsum(sizes) if sizes.size else np.zeros(1, dtype=np.int64)
    peak = max(int(running.max()), 0)
    return {"before_bytes": before, "step_bytes": peak, "peak_bytes": before + peak,
            "end_bytes": int(running[-1]), "events": int(sizes.size)}


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
