"""``memory="torch"``: the peak of a PyTorch CPU training step of the same network.

The step is the one :func:`tallynet.profile.torch_memory.measure_torch_step_peak` measures,
on the twin ``tallynet.torch_bridge.to_torch`` builds: ``zero_grad(set_to_none=True)``,
forward, cross-entropy (or the mse / multi-margin loss), backward, ``optimizer.step()``.
It is a later step, not the first: the optimizer's state (momentum's buffer, Adam's
``exp_avg`` and ``exp_avg_sq``, created lazily at the first step) is alive before it begins,
and ``zero_grad`` has freed the previous step's gradients. The first step peaks no higher:
its state is created one parameter at a time inside ``step()``.

What it counts, from shapes alone, replayed over the graph's edges by the step replay
(:mod:`tallynet.cost.replay`):

- alive throughout: parameters, running statistics, optimizer state, the batch (inputs,
  and mse's targets or the int64 class labels);
- forward: each node's output, and what autograd saves for its backward
  (:meth:`Layer.torch_saved`: a convolution its input and weight, batchnorm its input and
  statistics, ReLU its output, ReLU6 / hardswish / SiLU / GELU their input, max pooling its
  input and int64 indices, dropout its mask, a flatten nothing...); an activation is freed
  once no later node reads it and no saved tensor references it; each kernel's temporaries
  (:meth:`Layer.torch_footprint`: oneDNN's copies of a convolution's tensors in its blocked
  layout);
- backward: each node's dx and temporaries above its dout, dout freed after the node's
  backward, the parameter gradients allocated at their first backward and held to the
  update; after a node's backward autograd frees its saved tensors, and with them the
  activations nothing else saved;
- the update: every gradient, and the temporaries of PyTorch's optimizer on the CPU
  (:data:`UPDATE_TEMPORARIES`).

Left out: scalars and arrays of the size of a channel (the loss, BN's num_batches_tracked,
Adam's step counters), autograd's own graph objects, and oneDNN's padding of few channels
(3 to 24) to its block of 8 or 16 in its reordered copies. The footprints are float32's: in
float64 PyTorch's convolutions run its own im2col kernels, whose columns (the whole batch's)
are not counted. The convolutions' temporaries are those of oneDNN's AVX-512 kernels: without
AVX-512, oneDNN computes the weight gradient of a convolution (one group) whose input is
narrower than its kernel with a GEMM-based kernel whose scratchpad (about 4 x threads
weight-sized buffers) is left out. Measured against the profiler within 1 % on seed-cnn, resnet18,
mobilenet_v2 (batch 32, 64 x 64 inputs, SGD and Adam) and a small vision transformer (README);
the tests hold them to 15 %.
"""

from dataclasses import replace

import numpy as np

from .memory_models import TALLYNET, LossMemory, MemoryModel

#: PyTorch's losses, in arrays of the scores' size (measured with the profiler): cross_entropy
#: is log_softmax (its result saved) and nll_loss, whose backward holds its gradient beside
#: log_softmax's dx; mse_loss saves its inputs and keeps one array; multi_margin_loss its inputs.
#: dscores is freed by the engine once the last node's backward has used it.
LOSSES = {"softmax": LossMemory(forward=1, kept=1, backward=2, keeps_scores=False, holds_dscores=False),
          "mse": LossMemory(forward=2, kept=1, backward=1, holds_dscores=False),
          "svm": LossMemory(backward=1, holds_dscores=False)}

#: parameter-sized temporaries PyTorch's optimizer holds for one parameter, on the CPU: its default
#: there is the single-tensor loop (foreach is the default on CUDA only), in place but for RMSprop's
#: ``square_avg.sqrt()`` and Adam's ``exp_avg_sq.sqrt()`` and its division by the bias correction.
#: The last of them (avg, denom) stays bound until the next parameter's replaces it.
UPDATE_TEMPORARIES = {"sgd": 0, "sgd_momentum": 0, "rmsprop": 1, "adam": 2}


def saved_bytes(saved, own):
    """Bytes of the saved tensors of their own (:meth:`Saved.is_extra`); ``own``: the layer's
    parameter and state names."""
    return sum(t.nbytes for t in saved if t.is_extra(own))


class TorchMemory(MemoryModel):
    """A PyTorch CPU training step of the twin (see the module docstring)."""

    name = "torch"
    description = "a PyTorch CPU training step of the same network"
    kept_label = "Saved by autograd besides activations (indices, masks, statistics)"
    frees_saved = True

    def node(self, layer, input_shape, dtype, training_pass):
        """What autograd saves (nothing where no gradient flows: the nodes before the first
        with parameters record no graph), as kept bytes and a Footprint for the replay."""
        saved = [] if training_pass == "none" else layer.torch_saved(input_shape, dtype)
        own = (*layer.param_names, *layer.state_shapes(input_shape))
        footprint = replace(layer.torch_footprint(input_shape, dtype.itemsize),
                            keeps_input=any(t.name.startswith("input") for t in saved),
                            keeps_output=any(t.name == "output" for t in saved))
        return saved_bytes(saved, own), footprint

    def saved_line(self, layer, input_shape, dtype, training_pass):
        saved = [] if training_pass == "none" else layer.torch_saved(input_shape, dtype)
        own = (*layer.param_names, *layer.state_shapes(input_shape))
        names = [f"{t.name} ({t.dtype}, {t.nbytes:,} bytes)" if t.is_extra(own) else t.name for t in saved]
        return f"- **Saved by PyTorch's autograd**: {', '.join(names) if names else 'nothing'}"

    def loss(self, loss):
        return LOSSES[loss]

    def batch_bytes(self, s):
        # the inputs, and the targets: mse's of the scores' shape, or one int64 label per sample
        return TALLYNET.batch_bytes(s) + (0 if s.loss == "mse" else s.batch * np.dtype(np.int64).itemsize)

    def update_temporaries(self, s):
        """The largest of k p_i + p_{i-1} over the parameters in order (k temporaries of parameter
        i, and the one of the parameter before still bound), 0 for the in-place rules."""
        k = UPDATE_TEMPORARIES[s.optimizer]
        sizes = [int(np.prod(shape)) * s.master_dtype.itemsize for l in s.layers
                 for shape in l.layer.param_shapes(l.input_shape).values()]
        return max((k * p + (before if k else 0) for p, before in zip(sizes, [0] + sizes)), default=0)


TORCH_MEMORY = TorchMemory()
