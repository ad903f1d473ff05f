"""Counting conventions: how a layer's work is turned into FLOPs.

A convention is an object with a ``name``, a one-line ``description`` and a
method ``terms(layer, input_shape)``. The built-in ones ask the layer, whose
module states each count beside the kernel it describes:

=============  ==================================================================
``exact``      every scalar operation the tallynet fast kernels execute: a dot
               product of length k is k mul + (k - 1) add, a max over n values is
               n - 1 comparisons, a bias add 1 per output; backward as
               implemented, col2im additions included. Proven by execution.
``walkthrough`` seed 001's hand counts: conv 2 Cin kh kw per output; batchnorm 5
               per element; ReLU 1; max pooling k^2 per output; global average
               pooling 1 per input element; affine 2 in per output. Backward:
               conv twice its forward, affine its two products plus the bias
               sum, batchnorm equal to its forward, ReLU and pooling 1 per
               input element.
``macs``       multiply-accumulates of convolutions, affine layers and products of
               activations (attention's) only (thop, ptflops, torchvision's tables);
               backward counts the input- and weight-gradient products, one MAC
               each per forward MAC (a layer may state its own: ``backward_mac_terms``).
``torch``      PyTorch's ``FlopCounterMode``: 2 FLOPs per MAC in convolutions and
               matrix products, nothing else; backward = input gradient + weight
               gradient, 2 FLOPs per MAC each. Like every convention, the layer
               rows count each layer's whole backward pass; ``step_backward_flops``
               leaves out the first layer's input gradient, as FlopCounterMode
               does when the input does not require grad.
=============  ==================================================================

Each convention states a layer's count as named terms (``terms(layer, input_shape)
-> {part: [Term]}``), the lines the walkthrough prints; ``flops`` is their sum.
A convention of your own overrides ``terms`` (or only ``flops``, and then the
walkthrough prints its counts without a derivation) and joins :data:`CONVENTIONS`
with :func:`register`::

    class TwoPerMacConvs(Convention):
        name = "mine"
        description = "exact, but a conv costs 2 FLOPs per MAC"
        def terms(self, layer, input_shape):
            if layer.kind == "conv":
                return TORCH.terms(layer, input_shape)
            return EXACT.terms(layer, input_shape)

    summary(model, convention=TwoPerMacConvs())
"""

from ..counts import Ops, Term, flops_from_terms


class Convention:
    """Base class: override ``terms(layer, input_shape)`` (or ``flops``)."""

    name = "convention"
    description = ""

    def terms(self, layer, input_shape):
        """``{part: [Term]}``: the layer's count under this convention, term by term."""
        raise NotImplementedError(f"convention {self.name!r} states no terms")

    def flops(self, layer, input_shape):
        """The :class:`~tallynet.counts.LayerFlops` of a layer: the sum of its terms."""
        return flops_from_terms(self.terms(layer, input_shape))

    def __repr__(self):
        return f"<convention {self.name!r}: {self.description}>"


class Exact(Convention):
    name = "exact"
    description = "every scalar operation the fast kernels execute, by kind"

    def terms(self, layer, input_shape):
        return layer.exact_terms(input_shape)


class Walkthrough(Convention):
    name = "walkthrough"
    description = "seed 001's hand counts (2 per MAC, batchnorm 5 per element, ...)"

    def terms(self, layer, input_shape):
        return layer.walkthrough_terms(input_shape)


class Macs(Convention):
    """The layer's multiply-accumulates (``Layer.mac_terms``): forward, and as many again for
    each of the input and the weight gradient. ``per_mac`` FLOPs each (1: counted as MACs)."""

    name = "macs"
    description = "multiply-accumulates of convolutions, affine layers and matrix products only"
    per_mac = 1
    _BACKWARD = {"backward_input": "input gradient, as many as the forward",
                 "backward_params": "weight gradient, as many as the forward"}

    def _scaled(self, t, label):
        m = t.ops.mac
        if self.per_mac == 1:
            return Term(f"{label}, 1 MAC", t.symbol, t.factors, Ops(mac=m))
        return Term(f"{label}, {self.per_mac} FLOPs per MAC", f"{self.per_mac} \\times {t.symbol}",
                    (self.per_mac,) + t.factors, Ops(mul=m, add=(self.per_mac - 1) * m))

    def terms(self, layer, input_shape):
        macs = layer.mac_terms(input_shape)
        if not macs:
            return {}
        terms = {"forward": [self._scaled(t, t.label) for t in macs]}
        backward = layer.backward_mac_terms(input_shape)
        if backward is None:
            terms.update({part: [self._scaled(t, label) for t in macs] for part, label in self._BACKWARD.items()})
        else:
            terms.update({part: [self._scaled(t, t.label) for t in ts] for part, ts in backward.items()})
        return terms


class Torch(Macs):
    name = "torch"
    description = "PyTorch FlopCounterMode: 2 FLOPs per MAC of convolutions and matrix products"
    per_mac = 2


EXACT, WALKTHROUGH, MACS, TORCH = Exact(), Walkthrough(), Macs(), Torch()
#: the counting conventions by name: the summary's, the walkthrough's and the command line's choices
CONVENTIONS = {}


def register(convention):
    """Add a :class:`Convention` instance to :data:`CONVENTIONS` (a name already taken is refused)."""
    if not isinstance(convention, Convention):
        raise TypeError(f"register takes a Convention instance, got {type(convention).__name__}")
    if convention.name in CONVENTIONS and CONVENTIONS[convention.name] is not convention:
        raise ValueError(f"a convention named {convention.name!r} is already registered")
    CONVENTIONS[convention.name] = convention
    return convention


for _builtin in (EXACT, WALKTHROUGH, MACS, TORCH):
    register(_builtin)


def get_convention(convention):
    """A convention object from itself or its name."""
    if isinstance(convention, Convention):
        return convention
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {', '.join(CONVENTIONS)} "
                         "or a tallynet.cost.Convention instance")
    return CONVENTIONS[convention]
