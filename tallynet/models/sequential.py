"""A chain of layers: the graph whose every node takes the one before (:class:`Sequential`)."""

import numpy as np

from .graph import Graph
from .nodes import chain, node_shapes


def layer_shapes(layers, input_shape, batch=1):
    """Input shape of every layer of a chain followed by the final output shape:
    ``len(layers) + 1`` tuples (see :func:`tallynet.models.nodes.node_shapes`)."""
    inputs, outputs = node_shapes(chain(layers), input_shape, batch)
    return inputs + outputs[-1:]


class Sequential(Graph):
    """Layers applied in order, then a loss; the arguments are :class:`~tallynet.models.Graph`'s,
    with ``layers`` a list of :class:`tallynet.layers.Layer` objects in place of the nodes.

    Parameters are named like the course's nets: ``W1, b1`` for the first layer
    with weights (a layer whose class lists parameters in ``regularized``),
    ``gamma1, beta1`` for a normalization layer that follows it, ``W2, b2`` for the
    next one, and so on. Non-trainable state is keyed ``"<layer index>.<name>"``.
    """

    def __init__(self, layers, input_shape, loss="softmax", reg=0.0, weight_scale="he",
                 dtype=np.float32, seed=None, name=None, rng=None, checkpoint=None):
        self._number = 0  # the course's numbering: the count of layers with weights so far
        super().__init__(chain(layers), input_shape, loss=loss, reg=reg, weight_scale=weight_scale, dtype=dtype,
                         seed=seed, name=name, rng=rng, checkpoint=checkpoint)
        del self._number

    def _param_keys(self, i, layer):
        if layer.regularized:
            self._number += 1
        keys = {}
        for lname in layer.param_names:
            n = max(self._number, 1)
            while f"{lname}{n}" in self.params or f"{lname}{n}" in keys.values():
                n += 1
            keys[lname] = f"{lname}{n}"
        return keys

    def layer_shapes(self, batch=1):
        """See :func:`layer_shapes`: every layer's input shape, then the output shape."""
        return layer_shapes(self.layers, self.input_shape, batch)
