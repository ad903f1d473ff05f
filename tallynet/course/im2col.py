"""``cs231n.im2col``: the course's index-based im2col, in its argument order.

tallynet's :func:`tallynet.layers.im2col` already lays its columns out as the course's
``im2col_indices`` does (one row per (channel, kernel row, kernel column), one column per
(output row, output column, sample)), so these are its kernels with the course's
``(field_height, field_width, padding, stride)`` arguments; windows that do not tile the
padded input are dropped, where the course asserts that they tile.
"""

from ..layers.im2col import col2im, get_im2col_indices, im2col


def im2col_indices(x, field_height, field_width, padding=1, stride=1):
    """Columns of ``x`` (N, C, H, W): shape (C field_height field_width, H' W' N)."""
    return im2col(x, field_height, field_width, stride, padding)


def col2im_indices(cols, x_shape, field_height=3, field_width=3, padding=1, stride=1):
    """The adjoint of :func:`im2col_indices`: columns added back onto an array of ``x_shape``."""
    return col2im(cols, x_shape, field_height, field_width, stride, padding)


__all__ = ["get_im2col_indices", "im2col_indices", "col2im_indices"]
