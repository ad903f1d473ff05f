"""Counting conventions: how a layer's work is turned into FLOPs.

A convention is an object with a ``name``, a one-line ``description`` and a
method ``flops(layer, input_shape) -> LayerFlops``. The built-in ones ask the
layer, whose module holds each count beside the kernel it describes:

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
``macs``       multiply-accumulates of convolutions and affine layers only (thop,
               ptflops, torchvision's tables); backward counts the input- and
               weight-gradient products, one MAC each per forward MAC.
``torch``      PyTorch's ``FlopCounterMode``: 2 FLOPs per MAC in convolutions and
               matrix products, nothing else; backward = input gradient + weight
               gradient, 2 FLOPs per MAC each. (FlopCounterMode skips the first
               layer's input gradient when the input does not require grad;
               tallynet computes it, so it is counted here.)
=============  ==================================================================

A convention of your own::

    class TwoPerMacConvs(Convention):
        name = "mine"
        description = "exact, but a conv costs 2 FLOPs per MAC"
        def flops(self, layer, input_shape):
            if layer.kind == "conv":
                m = layer.macs(input_shape)
                return LayerFlops(Ops(mul=m, add=m), Ops(mul=m, add=m), Ops(mul=m, add=m))
            return EXACT.flops(layer, input_shape)

    summary(model, convention=TwoPerMacConvs())
"""

from ..counts import LayerFlops, Ops


class Convention:
    """Base class: override ``flops(layer, input_shape)``."""

    name = "convention"
    description = ""

    def flops(self, layer, input_shape):
        raise NotImplementedError

    def __repr__(self):
        return f"<convention {self.name!r}: {self.description}>"


class Exact(Convention):
    name = "exact"
    description = "every scalar operation the fast kernels execute, by kind"

    def flops(self, layer, input_shape):
        return layer.exact_flops(input_shape)


class Walkthrough(Convention):
    name = "walkthrough"
    description = "seed 001's hand counts (2 per MAC, batchnorm 5 per element, ...)"

    def flops(self, layer, input_shape):
        return layer.walkthrough_flops(input_shape)


class Macs(Convention):
    name = "macs"
    description = "multiply-accumulates of convolutions and affine layers only"

    def flops(self, layer, input_shape):
        m = layer.macs(input_shape)
        return LayerFlops(forward=Ops(mac=m), backward_input=Ops(mac=m), backward_params=Ops(mac=m))


class Torch(Convention):
    name = "torch"
    description = "PyTorch FlopCounterMode: 2 FLOPs per MAC of convolutions and matrix products"

    def flops(self, layer, input_shape):
        m = layer.macs(input_shape)
        two = Ops(mul=m, add=m)
        return LayerFlops(forward=two, backward_input=two, backward_params=two)


EXACT, WALKTHROUGH, MACS, TORCH = Exact(), Walkthrough(), Macs(), Torch()
CONVENTIONS = {c.name: c for c in (EXACT, WALKTHROUGH, MACS, TORCH)}


def get_convention(convention):
    """A convention object from itself or its name."""
    if isinstance(convention, Convention):
        return convention
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {', '.join(CONVENTIONS)} "
                         "or a tallynet.cost.Convention instance")
    return CONVENTIONS[convention]
