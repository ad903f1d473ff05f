import numpy as np
import pytest

from tallynet.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error


def assert_gradient_matches(numeric, analytic, tol, what=""):
    """Relative error below ``tol``; or, for the entries whose true gradient is exactly zero (a
    bias that feeds batchnorm, whose mean absorbs it; attention's key bias, which adds the same
    amount to every score of a row, and softmax does not see it), both sides within rounding of
    zero: a relative error between two rounding residues measures nothing."""
    numeric, analytic = np.asarray(numeric), np.asarray(analytic)
    zero = np.abs(analytic) < 1e-12
    assert np.all(np.abs(numeric[zero]) < 1e-9), what
    if not zero.all():
        assert rel_error(numeric[~zero], analytic[~zero]) < tol, what


def assert_numerical_gradients(f, arrays, analytic, dout=None, tol=1e-7, what=""):
    """The one numerical-gradient check of the suite: each ``analytic[name]`` against centred
    differences of ``f()`` with respect to ``arrays[name]`` (perturbed in place, so ``f`` reads
    it): of a scalar ``f`` when ``dout`` is None, else the vector-Jacobian product with ``dout``."""
    for name, a in arrays.items():
        if dout is None:
            numeric = eval_numerical_gradient(lambda _: f(), a, verbose=False)
        else:
            numeric = eval_numerical_gradient_array(lambda _: f(), a, dout)
        assert numeric.shape == np.shape(analytic[name]), (what, name)
        assert_gradient_matches(numeric, analytic[name], tol, f"{what} d{name}")


def to_channel_major(a):
    """A copy of ``a`` (N, C, H, W) stored channel-major, as a model keeps its activations."""
    from tallynet.layers.im2col import channel_major

    out = channel_major(a.shape, a.dtype)
    out[...] = a
    return out


@pytest.fixture
def colours(tmp_path):
    """scripts/imagenet_fixture.py's folder (six solid-colour JPEGs: RGB, L, CMYK; their XMLs, the
    synset list, colour-net.yaml and its weights colour-net.npz), as its paths by name."""
    from imagenet_helpers import fixture_script

    return fixture_script().write_fixture(str(tmp_path / "colours"))
