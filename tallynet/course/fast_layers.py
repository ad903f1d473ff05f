"""``cs231n.fast_layers``: the course's fast-layer names, all on tallynet's fast kernels.

The course has several implementations (im2col by fancy indexing or Cython, a strided
view, a reshape for tiling pools); tallynet has one of each kind, faster than all of
them, so every name maps to it: ``conv_forward_im2col``, ``conv_forward_strides`` and
``conv_forward_fast`` are :func:`tallynet.layers.conv_forward_fast`, whose cache any of
the three backward names takes; ``max_pool_forward_reshape``, ``max_pool_forward_im2col``
and ``max_pool_forward_fast`` are :func:`tallynet.layers.max_pool_forward_fast` (it tiles
when the windows tile the input and uses im2col otherwise, as the course's ``fast`` picks
between ``reshape`` and ``im2col``). ``conv_forward_pytorch`` is not offered.
"""

from ..layers import conv_backward_fast, conv_forward_fast, max_pool_backward_fast, max_pool_forward_fast

conv_forward_im2col = conv_forward_strides = conv_forward_fast
conv_backward_im2col = conv_backward_strides = conv_backward_fast
max_pool_forward_reshape = max_pool_forward_im2col = max_pool_forward_fast
max_pool_backward_reshape = max_pool_backward_im2col = max_pool_backward_fast

__all__ = ["conv_forward_fast", "conv_backward_fast", "conv_forward_im2col", "conv_backward_im2col",
           "conv_forward_strides", "conv_backward_strides", "max_pool_forward_fast", "max_pool_backward_fast",
           "max_pool_forward_reshape", "max_pool_backward_reshape", "max_pool_forward_im2col",
           "max_pool_backward_im2col"]
