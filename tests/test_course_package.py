"""tallynet.course: the course's package layout, names and helpers, and install()."""

import sys

import numpy as np
import pytest

import tallynet.course
from tallynet.gradcheck import eval_numerical_gradient_array, eval_numerical_gradient_blobs, \
    eval_numerical_gradient_net, rel_error
from tallynet.layers import im2col, spatial_batchnorm_forward
from tallynet.course.im2col import col2im_indices, get_im2col_indices, im2col_indices
from tallynet.course.layer_utils import (conv_bn_relu_backward, conv_bn_relu_forward, conv_relu_backward,
                                         conv_relu_forward)

#: every name the course's starter code of assignment 2 defines (2019 and 2022 versions), by module
COURSE_NAMES = {
    "layers": ["affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss", "svm_loss",
               "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward",
               "layernorm_backward", "dropout_forward", "dropout_backward", "conv_forward_naive",
               "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive",
               "spatial_batchnorm_forward", "spatial_batchnorm_backward", "spatial_groupnorm_forward",
               "spatial_groupnorm_backward"],
    "fast_layers": ["conv_forward_im2col", "conv_backward_im2col", "conv_forward_strides", "conv_backward_strides",
                    "conv_forward_fast", "conv_backward_fast", "max_pool_forward_fast", "max_pool_backward_fast",
                    "max_pool_forward_reshape", "max_pool_backward_reshape", "max_pool_forward_im2col",
                    "max_pool_backward_im2col"],
    "layer_utils": ["affine_relu_forward", "affine_relu_backward", "conv_relu_forward", "conv_relu_backward",
                    "conv_bn_relu_forward", "conv_bn_relu_backward", "conv_relu_pool_forward",
                    "conv_relu_pool_backward"],
    "im2col": ["get_im2col_indices", "im2col_indices", "col2im_indices"],
    "gradient_check": ["eval_numerical_gradient", "eval_numerical_gradient_array", "eval_numerical_gradient_blobs",
                       "eval_numerical_gradient_net", "grad_check_sparse"],
    "optim": ["sgd", "sgd_momentum", "rmsprop", "adam"],
    "solver": ["Solver"],
    "data_utils": ["get_CIFAR10_data"],
    "vis_utils": ["visualize_grid"],
    "classifiers.fc_net": ["FullyConnectedNet", "TwoLayerNet"],
    "classifiers.cnn": ["ThreeLayerConvNet"],
}


@pytest.fixture
def installed():
    saved = {k: v for k, v in sys.modules.items() if k == "cs231n" or k.startswith("cs231n.")}
    yield tallynet.course.install()
    for k in [k for k in sys.modules if k == "cs231n" or k.startswith("cs231n.")]:
        del sys.modules[k]
    sys.modules.update(saved)


@pytest.mark.parametrize("module", sorted(COURSE_NAMES))
def test_install_resolves_every_course_name(installed, module):
    import importlib
    mod = importlib.import_module(f"cs231n.{module}")
    assert mod is importlib.import_module(f"tallynet.course.{module}")
    missing = [name for name in COURSE_NAMES[module] if not callable(getattr(mod, name, None))]
    assert not missing


def test_star_imports_bring_what_the_course_modules_bring(installed):
    """The notebooks use affine_forward after `from cs231n.classifiers.fc_net import *`."""
    fc, cnn = {}, {}
    exec("from cs231n.classifiers.fc_net import *", fc)
    exec("from cs231n.classifiers.cnn import *", cnn)
    assert {"FullyConnectedNet", "affine_forward", "affine_relu_forward", "batchnorm_forward"} <= set(fc)
    assert {"ThreeLayerConvNet", "conv_forward_naive", "conv_forward_fast", "conv_relu_pool_forward"} <= set(cnn)


def test_the_2019_dropout_name_is_the_keep_ratio(installed):
    from cs231n.classifiers.fc_net import FullyConnectedNet
    np.random.seed(0)
    a = FullyConnectedNet([5], input_dim=4, num_classes=3, dropout=0.6, seed=1)
    assert a.use_dropout and [layer.keep for layer in a.layers if layer.kind == "dropout"] == [0.6]
    with pytest.raises(TypeError, match="not both"):
        FullyConnectedNet([5], input_dim=4, dropout=0.6, dropout_keep_ratio=0.5)


@pytest.mark.parametrize("shape,field,pad,stride", [((2, 3, 5, 5), (3, 3), 1, 1), ((2, 2, 7, 6), (3, 2), 0, 2)])
def test_im2col_indices_are_the_fancy_indexing_of_the_course(shape, field, pad, stride):
    x = np.random.default_rng(0).standard_normal(shape)
    k, i, j = get_im2col_indices(shape, *field, padding=pad, stride=stride)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # the course's definition: x_padded[:, k, i, j], as (K, L, N) flattened
    want = xp[:, k, i, j].transpose(1, 2, 0).reshape(k.shape[0], -1)
    np.testing.assert_array_equal(im2col_indices(x, *field, padding=pad, stride=stride), want)
    np.testing.assert_array_equal(want, im2col(x, *field, stride, pad))
    # col2im_indices is its adjoint: <im2col(x), c> == <x, col2im(c)>
    c = np.random.default_rng(1).standard_normal(want.shape)
    back = col2im_indices(c, shape, *field, padding=pad, stride=stride)
    assert back.shape == shape
    assert np.sum(want * c) == pytest.approx(np.sum(x * back), rel=1e-12)


def _grads_ok(forward, backward, args, dout, tol, zero=()):
    """Every gradient against the numerical one; those in ``zero`` vanish (a bias before
    batchnorm), where a relative error would compare rounding noise, so both are checked ~0."""
    out, cache = forward(*args)
    grads = backward(dout, cache)
    for index, grad in enumerate(grads):
        num = eval_numerical_gradient_array(lambda _: forward(*args)[0], args[index], dout)
        if index in zero:
            assert np.abs(grad).max() < 1e-12 and np.abs(num).max() < 1e-8, index
        else:
            assert rel_error(num, grad) < tol, index


def test_conv_relu_and_conv_bn_relu_gradients():
    rng = np.random.default_rng(231)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((3, 3, 3, 3)), rng.standard_normal(3)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    conv_param = {"stride": 1, "pad": 1}
    _grads_ok(conv_relu_forward, conv_relu_backward, (x, w, b, conv_param), rng.standard_normal((2, 3, 6, 6)), 1e-6)
    _grads_ok(lambda *a: conv_bn_relu_forward(*a, conv_param, {"mode": "train"}), conv_bn_relu_backward,
              (x, w, b, gamma, beta), rng.standard_normal((2, 3, 6, 6)), 1e-6, zero=(2,))
    out, _ = conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, {"mode": "train"})
    conv, _ = tallynet.course.layers.conv_forward_naive(x, w, b, conv_param)
    bn, _ = spatial_batchnorm_forward(conv, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out, np.maximum(bn, 0), rtol=1e-10, atol=1e-12)


class Blob:
    def __init__(self, vals):
        self.vals, self.diffs = vals, np.zeros_like(vals)


def test_blob_gradients_of_a_product():
    """f(a, b, out): out.vals = a.vals @ b.vals; the gradients are dout @ b.T and a.T @ dout."""
    rng = np.random.default_rng(0)
    a, b, out = Blob(rng.standard_normal((3, 4))), Blob(rng.standard_normal((4, 2))), Blob(np.zeros((3, 2)))
    out.diffs = rng.standard_normal((3, 2))

    def f(a, b, out):
        out.vals = a.vals @ b.vals

    da, db = eval_numerical_gradient_blobs(f, (a, b), out)
    np.testing.assert_allclose(da, out.diffs @ b.vals.T, rtol=1e-8)
    np.testing.assert_allclose(db, a.vals.T @ out.diffs, rtol=1e-8)

    class Net:
        def forward(self):
            f(a, b, out)

    np.testing.assert_allclose(eval_numerical_gradient_net(Net(), (a,), out)[0], da, rtol=1e-12)


def test_visualize_grid_tiles_rescaled_images_row_by_row():
    """Against the definition, tile by tile: G = ceil(sqrt(N)) per side, gaps of `padding` zeros."""
    from tallynet.course.vis_utils import visualize_grid
    rng = np.random.default_rng(0)
    Xs = rng.standard_normal((5, 3, 4, 2))
    Xs[3] = 7.0  # a constant image becomes 0
    grid = visualize_grid(Xs, ubound=255.0, padding=1)
    assert grid.shape == (3 * 3 + 2, 3 * 4 + 2, 2)
    for n in range(9):
        r, c = divmod(n, 3)
        tile = grid[r * 4:r * 4 + 3, c * 5:c * 5 + 4]
        if n < 5 and n != 3:
            want = 255.0 * (Xs[n] - Xs[n].min()) / (Xs[n].max() - Xs[n].min())
            np.testing.assert_allclose(tile, want, rtol=1e-12)
        else:
            assert not tile.any()
    assert not grid[3].any() and not grid[:, 4].any()  # the gaps
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W, C\)"):
        visualize_grid(Xs[0])
