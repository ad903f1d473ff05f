"""A model is a list of layer objects, a loss and one ``params`` dict.

The trainer calls ``loss(X, y)``; the cost model walks ``layers`` with
``layer_shapes``: both see the same objects, so the net you train is the net
you analyse.
"""

import numpy as np

from ..layers._checks import check_choice
from ..layers.base import MODES
from ..layers.losses import LOSSES


def layer_shapes(layers, input_shape, batch=1):
    """Input shape of every layer followed by the final output shape: ``len(layers) + 1`` tuples.

    ``input_shape`` is one sample's shape; every returned shape starts with ``batch``.
    Works from shapes alone (nothing is allocated), and raises ``ValueError``
    naming the layer's index and type where a shape does not fit.
    """
    shape = (int(batch),) + tuple(input_shape)
    shapes = [shape]
    for i, layer in enumerate(layers):
        try:
            shape = tuple(layer.output_shape(shape))
        except ValueError as err:
            label = f"{layer.kind} {layer.name!r}" if layer.name else layer.kind
            raise ValueError(f"layer {i} ({label}) with input shape {shape}: {err}") from None
        shapes.append(shape)
    return shapes


def training_passes(layers):
    """What a training step runs of each layer's backward: ``"full"`` (dx and the parameter
    gradients), ``"params"`` (:meth:`Layer.param_grads`: dx would be the gradient of the input
    batch, which no one uses, or flow only into layers without parameters) or ``"none"``.

    So the first layer with parameters computes no input gradient, and the layers before
    it run no backward at all, as in PyTorch, whose inputs do not require gradients. The
    cost model reports both the layers' whole backward passes and this (``step_backward``).
    """
    first = next((i for i, layer in enumerate(layers) if layer.param_names), len(layers))
    return ["none"] * first + ["params"] * (first < len(layers)) + ["full"] * (len(layers) - first - 1)


def run_backward(layer, pass_, dout, cache):
    """``(dx, grads)`` of ``layer``'s backward as a training step runs it (dx is None
    for ``"params"``; see :func:`training_passes`)."""
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
    - rng: a generator to draw from instead of ``np.random.default_rng(seed)`` (the
      course's FullyConnectedNet passes NumPy's global one, ``np.random``)

    Parameters are named like the course's nets: ``W1, b1`` for the first layer
    with weights, ``gamma1, beta1`` for a normalization layer that follows it,
    ``W2, b2`` for the next one, and so on.
    """

    def __init__(self, layers, input_shape, loss="softmax", reg=0.0, weight_scale="he",
                 dtype=np.float32, seed=None, name=None, rng=None):
        self.layers = list(layers)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.loss_name = check_choice("loss", loss, tuple(LOSSES))
        self.reg = float(reg)
        self.dtype = np.dtype(dtype).type
        self.name = name
        self.params = {}
        self.param_keys = []  # per layer: {local name: key in self.params}
        shapes = self.layer_shapes(batch=1)
        if self.loss_name != "mse" and len(shapes[-1]) != 2:
            raise ValueError(f"loss {loss!r} needs scores of shape (N, classes), but the last layer outputs "
                             f"{shapes[-1]}: end the network with an affine layer")
        rng = np.random.default_rng(seed) if rng is None else rng
        index = 0
        for layer, in_shape in zip(self.layers, shapes):
            local = layer.init_params(in_shape, rng, weight_scale, self.dtype)
            if "W" in local:
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

    def forward(self, X, mode="test"):
        """Scores for ``X`` and the per-layer caches: ``(scores, caches)``."""
        check_choice("mode", mode, MODES)
        x = self._prepare_input(X)
        caches = []
        for layer, keys in zip(self.layers, self.param_keys):
            x, cache = layer.forward(x, {l: self.params[k] for l, k in keys.items()}, mode)
            caches.append(cache)
        return x, caches

    def backward(self, dout, caches, hook=None):
        """Gradients of every parameter for upstream ``dout``, keyed like ``params``; the
        gradient of the input batch is not computed (:func:`training_passes`).

        ``hook(i, layer, dout, cache, pass_) -> (dx, grads)``, if given, runs each layer's
        pass instead of :func:`run_backward` (the profiler times, counts and measures them).
        """
        hook = hook or (lambda i, layer, dout, cache, pass_: run_backward(layer, pass_, dout, cache))
        grads = {}
        passes = training_passes(self.layers)
        for i in reversed(range(len(self.layers))):
            if passes[i] == "none":
                break
            dout, local = hook(i, self.layers[i], dout, caches[i], passes[i])
            grads.update({self.param_keys[i][lname]: g for lname, g in local.items()})
        return grads

    def loss(self, X, y=None):
        """Test mode (``y is None``): the scores, (N, classes). Train mode: ``(loss, grads)``."""
        if y is None:
            return self.forward(X, "test")[0]
        scores, caches = self.forward(X, "train")
        loss, dscores = LOSSES[self.loss_name](scores, y)
        grads = self.backward(dscores, caches)
        if self.reg:
            for key in self.weight_keys():
                W = self.params[key]
                loss += 0.5 * self.reg * float(np.sum(W * W))
                grads[key] = grads[key] + self.reg * W
        return loss, grads

    def weight_keys(self):
        """Keys of the parameters that L2 regularisation applies to (the ``W`` of each layer)."""
        return [keys["W"] for keys in self.param_keys if "W" in keys]

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
