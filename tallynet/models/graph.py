"""A model is nodes over edges, a loss and one ``params`` dict: :class:`Graph`.

Each node is a layer object and the nodes its inputs come from (see
:mod:`tallynet.models.nodes`); a chain of layers (:class:`~tallynet.models.Sequential`)
is the graph whose every node takes the one before. One executor runs every model:
the forward pass in node order, each output let go after its last consumer; the
backward pass in reverse, gradients summed where an output feeds several nodes, and
no gradient of the input batch. The trainer calls ``loss(X, y)``; the cost model and
the profiler walk ``nodes``: they all see the same layer objects.

Parameter names: in a graph, ``"<node name>.<local name>"`` (``layer1.0.conv1.W``: a
node's name is its path through the spec's blocks, as torchvision names its modules);
non-trainable state likewise (``layer1.0.bn1.running_mean``). Checkpoints key on them.
"""

import numpy as np

from ..layers._checks import check_choice
from ..layers.base import MODES
from ..layers.losses import LOSSES
from .checkpointing import Checkpointed, check_checkpoint, checkpointed_forward
from .nodes import MODEL_INPUT, last_uses, node_shapes, training_passes


def run_forward(i, layer, x, params, mode):
    """A node's forward pass as a step runs it (the default forward hook)."""
    return layer.forward(x, params, mode)


def run_backward(i, layer, dout, cache, pass_):
    """``(dx, grads)`` of a node's backward as a training step runs it (the default backward
    hook; dx is None for ``"params"``, see :func:`tallynet.models.nodes.training_passes`)."""
    if pass_ == "params":
        return None, layer.param_grads(dout, cache)
    return layer.backward(dout, cache)


def _inputs(values, inputs):
    """What a node is given: its input's value, or the list of them for a merge."""
    return values[inputs[0]] if len(inputs) == 1 else [values[j] for j in inputs]


class Graph:
    """Nodes over edges, then a loss.

    - nodes: ``[(layer, inputs)]`` in execution order; ``inputs`` a tuple of earlier node
      indices (-1: the model's input); the last node's output is the scores
    - input_shape: the shape of ONE sample, e.g. ``(3, 32, 32)`` or ``(784,)``
    - names: one name per node (default: their indices); a layer without a name of its
      own takes its node's
    - loss: ``"softmax"``, ``"svm"`` or ``"mse"``
    - reg: L2 strength; the loss gains 0.5 * reg * sum(W^2) over every parameter a layer
      class lists as ``regularized`` (weights, not biases or batchnorm's scale)
    - weight_scale: standard deviation of the initial weights, or ``"he"`` for sqrt(2 / fan_in)
    - dtype: dtype of parameters and computation (float32 to train, float64 to check)
    - seed: seeds the weight initialisation and the generators of layers that draw
      random numbers without a seed of their own (dropout)
    - rng: a generator to draw from instead of ``np.random.default_rng(seed)`` (the
      course's classes pass NumPy's global one, ``np.random``)
    - checkpoint: gradient checkpointing every ``checkpoint`` nodes in a training step (see
      :mod:`tallynet.models.checkpointing`); None: every cache is kept. Settable later
      (``model.checkpoint = 3``).
    """

    def __init__(self, nodes, input_shape, names=None, loss="softmax", reg=0.0, weight_scale="he",
                 dtype=np.float32, seed=None, name=None, rng=None, checkpoint=None):
        self.nodes = [(layer, tuple(inputs)) for layer, inputs in nodes]
        self.layers = [layer for layer, _ in self.nodes]
        self.node_names = [str(n) for n in (range(len(self.nodes)) if names is None else names)]
        self.input_shape = tuple(int(d) for d in input_shape)
        self.loss_name = check_choice("loss", loss, tuple(LOSSES))
        self.reg = float(reg)
        self.dtype = np.dtype(dtype).type
        self.name = name
        in_shapes, out_shapes = self.node_shapes(batch=1)
        if self.loss_name != "mse" and len(out_shapes[-1]) != 2:
            raise ValueError(f"loss {loss!r} needs scores of shape (N, classes), but the last layer outputs "
                             f"{out_shapes[-1]}: end the network with an affine layer")
        rng = np.random.default_rng(seed) if rng is None else rng
        self.params = {}
        self.param_keys = []  # per node: {local name: key in self.params}
        for i, (layer, in_shape) in enumerate(zip(self.layers, in_shapes)):
            local = layer.init_params(in_shape, rng, weight_scale, self.dtype)
            keys = self._param_keys(i, layer)
            self.params.update({keys[lname]: local[lname] for lname in layer.param_names})
            self.param_keys.append(keys)
            layer.reset_state(in_shape, self.dtype)
            layer.seed_from(rng)
        self.checkpoint = checkpoint

    @property
    def checkpoint(self):
        """Nodes per checkpointed segment, or None (see :mod:`tallynet.models.checkpointing`)."""
        return self._checkpoint

    @checkpoint.setter
    def checkpoint(self, k):
        self._checkpoint = check_checkpoint(k, self.nodes)

    def _param_keys(self, i, layer):
        """``{local name: key in params}`` of node ``i``: ``"<node name>.<local name>"``."""
        if layer.name is None and self.node_names[i] != str(i):
            layer.name = self.node_names[i]
        return {lname: f"{self.node_names[i]}.{lname}" for lname in layer.param_names}

    # --- shapes ---------------------------------------------------------------
    def node_shapes(self, batch=1):
        """``(input shapes, output shapes)`` of every node (see :func:`~tallynet.models.nodes.node_shapes`)."""
        return node_shapes(self.nodes, self.input_shape, batch)

    @property
    def output_shape(self):
        return self.node_shapes(batch=1)[1][-1][1:]

    # --- training -------------------------------------------------------------
    def _prepare_input(self, X):
        X = np.asarray(X)
        if X.shape[1:] != self.input_shape:
            flat = int(np.prod(self.input_shape))
            # only features are flattened: an (N, H, W, C) batch reshaped to (N, C, H, W)
            # would train on scrambled pixels
            if len(self.input_shape) == 1 and X.ndim >= 2 and int(np.prod(X.shape[1:])) == flat:
                X = X.reshape((X.shape[0],) + self.input_shape)
            else:
                raise ValueError(
                    f"X has shape {X.shape}, expected (N, {', '.join(map(str, self.input_shape))})"
                )
        return X.astype(self.dtype, copy=False)

    def _local_params(self, i):
        return {local: self.params[key] for local, key in self.param_keys[i].items()}

    def run_node(self, i, values, last, hook, mode):
        """Run node ``i`` on ``values`` (node -> output) with ``hook``; store its output in
        ``values``, let go the inputs whose last reader (``last``) it is; return its cache."""
        layer, inputs = self.nodes[i]
        out, cache = hook(i, layer, _inputs(values, inputs), self._local_params(i), mode)
        for j in set(inputs):
            if j != MODEL_INPUT and last[j] == i:
                del values[j]
        values[i] = out
        return cache

    def forward(self, X, mode="test", hook=None):
        """Scores for ``X`` and the per-node caches: ``(scores, caches)``.

        ``hook(i, layer, x, params, mode) -> (out, cache)``, if given, runs each node's pass
        instead of :func:`run_forward` (the profiler times, counts and measures them); ``x``
        is a list for a merge. An output is let go once its last consumer has run, unless a
        cache keeps it. With :attr:`checkpoint` set, a train-mode pass returns a
        :class:`~tallynet.models.checkpointing.Checkpointed` record in place of the caches.
        """
        check_choice("mode", mode, MODES)
        hook = hook or run_forward
        X = self._prepare_input(X)
        if mode == "train" and self.checkpoint:
            return checkpointed_forward(self, X, self.checkpoint, hook)
        values, last = {MODEL_INPUT: X}, last_uses(self.nodes)
        caches = [self.run_node(i, values, last, hook, mode) for i in range(len(self.nodes))]
        return values[len(self.nodes) - 1], caches

    def backward(self, dout, caches, hook=None, recompute_hook=None):
        """Gradients of every parameter for upstream ``dout``, keyed like ``params``; the
        gradient of the input batch is not computed (:func:`~tallynet.models.nodes.training_passes`).
        Where an output feeds several nodes, their gradients are summed.

        ``hook(i, layer, dout, cache, pass_) -> (dx, grads)``, if given, runs each node's pass
        instead of :func:`run_backward`; a merge's dx is a list, one per input.
        ``recompute_hook``: a forward hook for the forward passes a checkpointed step runs
        again (default :func:`run_forward`).
        """
        hook = hook or run_backward
        if isinstance(caches, Checkpointed):
            record, again = caches, recompute_hook or run_forward
            cache_of = lambda i: record.cache(i, again)  # noqa: E731 - recomputes on entering a segment
        else:
            cache_of = caches.__getitem__
        grads, pending = {}, {len(self.nodes) - 1: dout}
        passes = training_passes(self.nodes)
        for i in reversed(range(len(self.nodes))):
            if passes[i] == "none" or i not in pending:
                continue
            layer, inputs = self.nodes[i]
            cache = cache_of(i)
            dx, local = hook(i, layer, pending.pop(i), cache, passes[i])
            del cache
            grads.update({self.param_keys[i][lname]: g for lname, g in local.items()})
            if passes[i] == "full":
                for j, d in zip(inputs, dx if len(inputs) > 1 else [dx]):
                    if j != MODEL_INPUT and passes[j] != "none":
                        pending[j] = d if j not in pending else pending[j] + d
        return grads

    def loss(self, X, y=None, forward_hook=None, backward_hook=None, loss_hook=None, recompute_hook=None):
        """Test mode (``y is None``): the scores, (N, classes). Train mode: ``(loss, grads)``.

        The hooks run each node's forward and backward pass and the loss (``loss_hook(scores,
        y) -> (loss, dscores)``) instead of the plain ones; see :meth:`forward` and :meth:`backward`.
        ``recompute_hook`` runs the forward passes a checkpointed step recomputes (default:
        ``forward_hook``).
        """
        if y is None:
            return self.forward(X, "test", forward_hook)[0]
        scores, caches = self.forward(X, "train", forward_hook)
        loss, dscores = (loss_hook or LOSSES[self.loss_name])(scores, y)
        grads = self.backward(dscores, caches, backward_hook, recompute_hook or forward_hook)
        if self.reg:
            for key in self.weight_keys():
                W = self.params[key]
                loss += 0.5 * self.reg * float(np.sum(W * W))
                grads[key] = grads[key] + self.reg * W
        return loss, grads

    def weight_keys(self):
        """Keys of the parameters that L2 regularisation applies to (each layer class's ``regularized``)."""
        return [keys[local] for layer, keys in zip(self.layers, self.param_keys)
                for local in layer.regularized if local in keys]

    def predict(self, X, batch_size=256):
        """Class predictions, computed in batches of ``batch_size``."""
        X = np.asarray(X)
        return np.concatenate([np.argmax(self.loss(X[i:i + batch_size]), axis=1)
                               for i in range(0, X.shape[0], batch_size)])

    # --- state for checkpoints --------------------------------------------------
    def get_state(self):
        """Non-trainable state of every node, keyed ``"<node name>.<name>"``."""
        return {f"{n}.{k}": v for n, layer in zip(self.node_names, self.layers) for k, v in layer.get_state().items()}

    def set_state(self, state):
        for n, layer in zip(self.node_names, self.layers):
            prefix = f"{n}."
            mine = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if mine:
                layer.set_state(mine)

    def __repr__(self):
        body = "\n".join(f"  ({n}) {layer!r}" + (f" <- {', '.join(self._input_names(inputs))}"
                                                  if inputs != (i - 1,) else "")
                         for i, (n, (layer, inputs)) in enumerate(zip(self.node_names, self.nodes)))
        return f"{type(self).__name__}(input_shape={self.input_shape}, loss={self.loss_name!r},\n{body}\n)"

    def _input_names(self, inputs):
        return ["input" if j == MODEL_INPUT else self.node_names[j] for j in inputs]
