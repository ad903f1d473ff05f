import numpy as np

from tallynet.gradcheck import rel_error


def assert_gradient_matches(numeric, analytic, tol, what=""):
    """Relative error below ``tol``; or, where the true gradient is exactly zero (a bias that
    feeds batchnorm, whose mean absorbs it), both sides within rounding of zero: a relative
    error between two rounding residues measures nothing."""
    if np.max(np.abs(analytic)) < 1e-12:
        assert np.max(np.abs(numeric)) < 1e-9, what
    else:
        assert rel_error(numeric, analytic) < tol, what


def to_channel_major(a):
    """A copy of ``a`` (N, C, H, W) stored channel-major, as a model keeps its activations."""
    from tallynet.layers.im2col import channel_major

    out = channel_major(a.shape, a.dtype)
    out[...] = a
    return out
