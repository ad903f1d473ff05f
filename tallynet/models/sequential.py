"""A model is a list of layer objects, a loss and one ``params`` dict.

The trainer calls ``loss(X, y)``; the cost model walks ``layers`` with
``layer_shapes``: both see the same objects, so the net you train is the net
you analyse.
"""

import numpy as np

from ..layers._checks import check_choice
from ..layers.base import MODES
from ..layers.losses import LOSSES
from .nodes import MODEL_INPUT, chain, last_uses, node_shapes, training_passes


def layer_shapes(layers, input_shape, batch=1):
    """Input shape of every layer of a chain followed by the final output shape:
    ``len(layers) + 1`` tuples (see :func:`tallynet.models.nodes.node_shapes`)."""
    inputs, outputs = node_shapes(chain(layers), input_shape, batch)
    return inputs + outputs[-1:]


def run_forward(i, layer, x, params, mode):
    """A node's forward pass as a step runs it (the default forward hook)."""
    return layer.forward(x, params, mode)


def run_backward(i, layer, dout, cache, pass_):
    """``(dx, grads)`` of a node's backward as a training step runs it (the default backward
    hook; dx is None for ``"params"``, see :func:`tallynet.models.nodes.training_passes`)."""
    if pass_ == "params":
        return None, layer.param_grads(dout, cache)
    return layer.backward(dout, cache)


class Sequential:
    """Layers applied in order, then a loss.

    - layers: list of :class:`tallynet.layers.Layer` objects
    - input_shape: the shape of ONE sample, e.g. ``(3, 32, 32)`` or ``(784,)``
    - loss: ``"softmax"``, ``"svm"`` or ``"mse"``
    - reg: L2 strength; the loss gains 0.5 * reg * sum(W^2) over every weight
      matrix / filter bank (biases and batchnorm parameters are not regularised)
    - weight_scale: standard deviation of the initial weights, or ``"he"`` for
      sqrt(2 / fan_in)
    - dtype: dtype of parameters and computation (float32 to train, float64 to check)
    - seed: seeds the weight initialisation and the generators of layers that draw
      random numbers without a seed of their own (dropout)

    Parameters are named like the course's nets: ``W1, b1`` for the first layer
    with weights (a layer whose class lists parameters in ``regularized``),
    ``gamma1, beta1`` for a normalization layer that follows it, ``W2, b2`` for the
    next one, and so on. L2 regularisation applies to the ``regularized`` ones.
    """

    def __init__(self, layers, input_shape, loss="softmax", reg=0.0, weight_scale="he",
                 dtype=np.float32, seed=None, name=None):
        self.layers = list(layers)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.loss_name = check_choice("loss", loss, tuple(LOSSES))
        self.reg = float(reg)
        self.dtype = np.dtype(dtype).type
        self.name = name
        self.nodes = chain(self.layers)
        self.params = {}
        self.param_keys = []  # per layer: {local name: key in self.params}
        shapes = self.layer_shapes(batch=1)
        if self.loss_name != "mse" and len(shapes[-1]) != 2:
            raise ValueError(f"loss {loss!r} needs scores of shape (N, classes), but the last layer outputs "
                             f"{shapes[-1]}: end the network with an affine layer")
        rng = np.random.default_rng(seed)
        index = 0
        for layer, in_shape in zip(self.layers, shapes):
            local = layer.init_params(in_shape, rng, weight_scale, self.dtype)
            if layer.regularized:
                index += 1
            keys = {}
            for lname in layer.param_names:
                n = max(index, 1)
                while f"{lname}{n}" in self.params:
                    n += 1
                keys[lname] = f"{lname}{n}"
                self.params[keys[lname]] = local[lname]
            self.param_keys.append(keys)
            layer.reset_state(in_shape, self.dtype)
            layer.seed_from(rng)

    # --- shapes ---------------------------------------------------------------
    def layer_shapes(self, batch=1):
        """See :func:`layer_shapes`: every layer's input shape, then the output shape."""
        return layer_shapes(self.layers, self.input_shape, batch)

    @property
    def output_shape(self):
        return self.layer_shapes(batch=1)[-1][1:]

    # --- training -------------------------------------------------------------
    def _prepare_input(self, X):
        X = np.asarray(X)
        if X.shape[1:] != self.input_shape:
            flat = int(np.prod(self.input_shape))
            if X.ndim >= 2 and int(np.prod(X.shape[1:])) == flat:
                X = X.reshape((X.shape[0],) + self.input_shape)
            else:
                raise ValueError(
                    f"X has shape {X.shape}, expected (N, {', '.join(map(str, self.input_shape))})"
                )
        return X.astype(self.dtype, copy=False)

    def _local_params(self, i):
        return {local: self.params[key] for local, key in self.param_keys[i].items()}

    def forward(self, X, mode="test", hook=None):
        """Scores for ``X`` and the per-node caches: ``(scores, caches)``.

        ``hook(i, layer, x, params, mode) -> (out, cache)``, if given, runs each node's pass
        instead of :func:`run_forward` (the profiler times, counts and measures them). An
        output is let go once its last consumer has run, unless a cache keeps it.
        """
        check_choice("mode", mode, MODES)
        hook = hook or run_forward
        values, caches, last = {MODEL_INPUT: self._prepare_input(X)}, [], last_uses(self.nodes)
        for i, (layer, inputs) in enumerate(self.nodes):
            out, cache = hook(i, layer, values[inputs[0]], self._local_params(i), mode)
            caches.append(cache)
            for j in inputs:
                if j != MODEL_INPUT and last[j] == i:
                    del values[j]
            values[i] = out
        return values[len(self.nodes) - 1], caches

    def backward(self, dout, caches, hook=None):
        """Gradients of every parameter for upstream ``dout``, keyed like ``params``; the
        gradient of the input batch is not computed (:func:`~tallynet.models.nodes.training_passes`).
        Where an output feeds several nodes, their gradients are summed.

        ``hook(i, layer, dout, cache, pass_) -> (dx, grads)``, if given, runs each node's pass
        instead of :func:`run_backward`.
        """
        hook = hook or run_backward
        grads, pending = {}, {len(self.nodes) - 1: dout}
        for i, pass_ in reversed(list(enumerate(training_passes(self.nodes)))):
            if pass_ == "none":
                continue
            layer, inputs = self.nodes[i]
            dx, local = hook(i, layer, pending.pop(i), caches[i], pass_)
            grads.update({self.param_keys[i][lname]: g for lname, g in local.items()})
            if pass_ == "full":
                for j in inputs:
                    pending[j] = dx if j not in pending else pending[j] + dx
        return grads

    def loss(self, X, y=None, forward_hook=None, backward_hook=None, loss_hook=None):
        """Test mode (``y is None``): the scores, (N, classes). Train mode: ``(loss, grads)``.

        The hooks run each node's forward and backward pass and the loss (``loss_hook(scores,
        y) -> (loss, dscores)``) instead of the plain ones; see :meth:`forward` and :meth:`backward`.
        """
        if y is None:
            return self.forward(X, "test", forward_hook)[0]
        scores, caches = self.forward(X, "train", forward_hook)
        loss, dscores = (loss_hook or LOSSES[self.loss_name])(scores, y)
        grads = self.backward(dscores, caches, backward_hook)
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
        """Non-trainable state of every layer, keyed ``"<layer index>.<name>"``."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.get_state().items()}

    def set_state(self, state):
        for i, layer in enumerate(self.layers):
            prefix = f"{i}."
            mine = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if mine:
                layer.set_state(mine)

    def __repr__(self):
        body = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"{type(self).__name__}(input_shape={self.input_shape}, loss={self.loss_name!r},\n{body}\n)"
