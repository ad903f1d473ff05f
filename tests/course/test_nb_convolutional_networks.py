"""ConvolutionalNetworks.ipynb: 2019 cells 4-42, 2022 cells 5-49 (see course_checks.py for the copies).

The timing prints of the fast-layer cells are not checks; their differences are.
"""

import numpy as np
import pytest

from course_checks import cs231n  # noqa: F401 (autouse: import cs231n resolves to tallynet.course)
from course_checks import around, model_grad_errors, rel_error


def _conv_x_w_b():
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
    return x, w, np.linspace(-0.1, 0.2, num=3)


@pytest.mark.parametrize("cell", ["2019_cell4", "2022_cell5"])
def test_conv_forward_naive(cell):
    from cs231n.classifiers.cnn import conv_forward_naive
    x, w, b = _conv_x_w_b()
    out, _ = conv_forward_naive(x, w, b, {'stride': 2, 'pad': 1})
    correct_out = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                             [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                             [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                            [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                             [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                             [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    assert rel_error(out, correct_out) < around(-8)
    assert rel_error(out, correct_out) == pytest.approx(2.2121476417505994e-08, rel=1e-6)  # saved, both years


@pytest.mark.parametrize("cell", ["2019_cell6", "2022_cell7"])
def test_image_filters_take_integer_biases(cell):
    """The image-processing cell: two images (the course's kitten and puppy; here synthetic
    ones, the photos are not ours to copy) through a grayscale filter and a horizontal edge
    filter, with the cell's integer bias ``b = np.array([0, 128])``."""
    from cs231n.classifiers.cnn import conv_forward_naive
    img_size = 20
    rng = np.random.default_rng(0)
    x = np.zeros((2, 3, img_size, img_size))
    x[0, :, :, :] = rng.integers(0, 256, (3, img_size, img_size)).astype(float)
    x[1, :, :, :] = np.tile(np.arange(img_size, dtype=float) * 12, (3, img_size, 1))
    w = np.zeros((2, 3, 3, 3))
    w[0, 0, :, :] = [[0, 0, 0], [0, 0.3, 0], [0, 0, 0]]
    w[0, 1, :, :] = [[0, 0, 0], [0, 0.6, 0], [0, 0, 0]]
    w[0, 2, :, :] = [[0, 0, 0], [0, 0.1, 0], [0, 0, 0]]
    w[1, 2, :, :] = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    b = np.array([0, 128])
    out, _ = conv_forward_naive(x, w, b, {'stride': 1, 'pad': 1})
    assert out.shape == (2, 2, img_size, img_size) and out.dtype == np.float64
    gray = 0.3 * x[:, 0] + 0.6 * x[:, 1] + 0.1 * x[:, 2]
    np.testing.assert_allclose(out[:, 0], gray, rtol=1e-12)
    # the second image varies along its width only: no horizontal edges inside, 128 everywhere
    np.testing.assert_allclose(out[1, 1, 1:-1], 128, rtol=1e-12)


def _seeded(*shapes):
    np.random.seed(231)
    return [np.random.randn(*s) for s in shapes]


def _check_grads(forward, backward, args, dout, bound):
    from cs231n.gradient_check import eval_numerical_gradient_array
    _, cache = forward(*args)
    grads = backward(dout, cache)
    for i, got in enumerate(grads):
        def f(v, i=i):
            return forward(*(args[:i] + (v,) + args[i + 1:]))[0]
        assert rel_error(eval_numerical_gradient_array(f, args[i], dout), got) < bound, i


@pytest.mark.parametrize("cell", ["2019_cell8", "2022_cell9"])
def test_conv_backward_naive(cell):
    """"Your errors should be around e-8 or less" (the 2022 copy's saved output, 1.0, is its bug)."""
    from cs231n.classifiers.cnn import conv_backward_naive, conv_forward_naive
    x, w, b, dout = _seeded((4, 3, 5, 5), (2, 3, 3, 3), (2,), (4, 2, 5, 5))
    conv_param = {'stride': 1, 'pad': 1}
    _check_grads(lambda x, w, b: conv_forward_naive(x, w, b, conv_param), conv_backward_naive, (x, w, b), dout,
                 around(-8))


@pytest.mark.parametrize("cell", ["2019_cell10", "2022_cell11"])
def test_max_pool_forward_naive(cell):
    from cs231n.classifiers.cnn import max_pool_forward_naive
    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
    out, _ = max_pool_forward_naive(x, {'pool_width': 2, 'pool_height': 2, 'stride': 2})
    correct_out = np.array([[[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                             [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                             [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
                            [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                             [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                             [[0.32631579, 0.34105263], [0.38526316, 0.4]]]])
    assert rel_error(out, correct_out) < around(-8)
    assert rel_error(out, correct_out) == pytest.approx(4.1666665157267834e-08, rel=1e-6)


@pytest.mark.parametrize("cell", ["2019_cell12", "2022_cell13"])
def test_max_pool_backward_naive(cell):
    from cs231n.classifiers.cnn import max_pool_backward_naive, max_pool_forward_naive
    x, dout = _seeded((3, 2, 8, 8), (3, 2, 4, 4))
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}
    _check_grads(lambda x: max_pool_forward_naive(x, pool_param), lambda d, c: (max_pool_backward_naive(d, c),),
                 (x,), dout, around(-12))


def test_conv_fast_equals_naive():
    """2019 cell 14 and 2022 cell 17 (the same code; run once). "Rel errors should be around e-9 or less" (the 2022 copy's saved backward, 1.0, is its bug).
    Every fast name the course exports runs tallynet's fast kernels, caches interchangeable."""
    from cs231n.fast_layers import (conv_backward_fast, conv_backward_im2col, conv_backward_strides,
                                    conv_forward_fast, conv_forward_im2col, conv_forward_strides)
    from cs231n.layers import conv_backward_naive, conv_forward_naive
    x, w, b, dout = _seeded((100, 3, 31, 31), (25, 3, 3, 3), (25,), (100, 25, 16, 16))
    conv_param = {'stride': 2, 'pad': 1}
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    grads_naive = conv_backward_naive(dout, cache_naive)
    for forward, backward in ((conv_forward_fast, conv_backward_fast), (conv_forward_strides, conv_backward_strides),
                              (conv_forward_im2col, conv_backward_im2col)):
        out_fast, cache_fast = forward(x, w, b, conv_param)
        assert rel_error(out_naive, out_fast) < around(-9)
        for naive, fast in zip(grads_naive, backward(dout, cache_fast)):
            assert rel_error(naive, fast) < around(-9)


def test_max_pool_fast_equals_naive():
    """2019 cell 15 and 2022 cell 18 (the same code; run once). "Relative errors should be close to 0.0": they are 0.0 (saved, 2019; the 2022 copy raised)."""
    from cs231n.fast_layers import (max_pool_backward_fast, max_pool_backward_im2col, max_pool_backward_reshape,
                                    max_pool_forward_fast, max_pool_forward_im2col, max_pool_forward_reshape)
    from cs231n.layers import max_pool_backward_naive, max_pool_forward_naive
    x, dout = _seeded((100, 3, 32, 32), (100, 3, 16, 16))
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    dx_naive = max_pool_backward_naive(dout, cache_naive)
    for forward, backward in ((max_pool_forward_fast, max_pool_backward_fast),
                              (max_pool_forward_reshape, max_pool_backward_reshape),
                              (max_pool_forward_im2col, max_pool_backward_im2col)):
        out_fast, cache_fast = forward(x, pool_param)
        assert rel_error(out_naive, out_fast) == 0.0
        assert rel_error(dx_naive, backward(dout, cache_fast)) == 0.0


@pytest.mark.parametrize("cell", ["2019_cell17", "2022_cell20"])
def test_conv_relu_pool(cell):
    from cs231n.layer_utils import conv_relu_pool_backward, conv_relu_pool_forward
    x, w, b, dout = _seeded((2, 3, 16, 16), (3, 3, 3, 3), (3,), (2, 3, 8, 8))
    conv_param, pool_param = {'stride': 1, 'pad': 1}, {'pool_height': 2, 'pool_width': 2, 'stride': 2}
    _check_grads(lambda x, w, b: conv_relu_pool_forward(x, w, b, conv_param, pool_param), conv_relu_pool_backward,
                 (x, w, b), dout, around(-8))


@pytest.mark.parametrize("cell", ["2019_cell18", "2022_cell21"])
def test_conv_relu(cell):
    from cs231n.layer_utils import conv_relu_backward, conv_relu_forward
    x, w, b, dout = _seeded((2, 3, 8, 8), (3, 3, 3, 3), (3,), (2, 3, 8, 8))
    conv_param = {'stride': 1, 'pad': 1}
    _check_grads(lambda x, w, b: conv_relu_forward(x, w, b, conv_param), conv_relu_backward, (x, w, b), dout,
                 around(-8))


@pytest.mark.parametrize("cell", ["2019_cell21", "2022_cell24"])
def test_three_layer_conv_net_initial_loss(cell):
    """The cell draws X without seeding, so its saved losses (2.302586..., 2.508255...) belong to
    the student's generator state; its check is the markdown's: log(10) without regularization,
    and more with it. Run at the notebook's sizes (the CIFAR-10 shape, default net)."""
    from cs231n.classifiers.cnn import ThreeLayerConvNet
    np.random.seed(0)
    model = ThreeLayerConvNet()
    N = 50
    X = np.random.randn(N, 3, 32, 32)
    y = np.random.randint(10, size=N)
    loss, grads = model.loss(X, y)
    assert loss == pytest.approx(np.log(10), rel=1e-4)
    assert sorted(grads) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    model.reg = 0.5
    loss_reg, _ = model.loss(X, y)
    squares = sum(np.sum(model.params[k].astype(np.float64) ** 2) for k in ("W1", "W2", "W3"))
    assert loss_reg == pytest.approx(loss + 0.25 * squares, rel=1e-5) and loss_reg > loss
    assert 0.18 < loss_reg - loss < 0.23  # the saved outputs differ by 0.2057


@pytest.mark.parametrize("cell", ["2019_cell23", "2022_cell26"])
def test_three_layer_conv_net_gradient_check(cell):
    """"correct implementations may have relative errors up to the order of e-2"."""
    from cs231n.classifiers.cnn import ThreeLayerConvNet
    num_inputs, input_dim, num_classes = 2, (3, 16, 16), 10
    np.random.seed(231)
    X = np.random.randn(num_inputs, *input_dim)
    y = np.random.randint(num_classes, size=num_inputs)
    model = ThreeLayerConvNet(num_filters=3, filter_size=3, input_dim=input_dim, hidden_dim=7, dtype=np.float64)
    errors = model_grad_errors(model, X, y, h=1e-6)
    assert max(errors.values()) < around(-2)
    # W2's error, the largest, is the same in both years' saved outputs: the same weights
    assert errors["W2"] == pytest.approx(1.822723e-02, rel=1e-3)


def _spatial_x():
    np.random.seed(231)
    return 4 * np.random.randn(2, 3, 4, 5) + 10


@pytest.mark.parametrize("cell", ["2019_cell34", "2022_cell41"])
def test_spatial_batchnorm_train_forward_with_integer_gamma_beta(cell):
    from cs231n.classifiers.cnn import spatial_batchnorm_forward
    x = _spatial_x()
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), [9.33463814, 8.90909116, 9.11056338], rtol=1e-8)
    out, _ = spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), {'mode': 'train'})
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-14)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), [0.99999962, 0.99999951, 0.9999996], rtol=1e-8)
    gamma, beta = np.asarray([3, 4, 5]), np.asarray([6, 7, 8])  # integers, as the cell has them
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {'mode': 'train'})
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), [6., 7., 8.], rtol=1e-14)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), [2.99999885, 3.99999804, 4.99999798], rtol=1e-8)


@pytest.mark.parametrize("cell", ["2019_cell35", "2022_cell42"])
def test_spatial_batchnorm_test_forward_after_warm_up(cell):
    from cs231n.classifiers.cnn import spatial_batchnorm_forward
    np.random.seed(231)
    N, C, H, W = 10, 4, 11, 12
    bn_param = {'mode': 'train'}
    gamma, beta = np.ones(C), np.zeros(C)
    for t in range(50):
        x = 2.3 * np.random.randn(N, C, H, W) + 13
        spatial_batchnorm_forward(x, gamma, beta, bn_param)
    bn_param['mode'] = 'test'
    x = 2.3 * np.random.randn(N, C, H, W) + 13
    a_norm, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(a_norm.mean(axis=(0, 2, 3)), [-0.08034406, 0.07562881, 0.05716371, 0.04378383],
                               rtol=1e-7)
    np.testing.assert_allclose(a_norm.std(axis=(0, 2, 3)), [0.96718744, 1.0299714, 1.02887624, 1.00585577],
                               rtol=1e-8)


def _norm_backward_check(forward, backward, x, gamma, beta, dout, bound):
    """The cell's check as written: fg and fb close over gamma and beta, which the numerical
    gradient perturbs in place, so the kernels must use those arrays as given."""
    from cs231n.gradient_check import eval_numerical_gradient_array
    fx = lambda x: forward(x, gamma, beta)[0]  # noqa: E731
    fg = lambda a: forward(x, gamma, beta)[0]  # noqa: E731
    fb = lambda b: forward(x, gamma, beta)[0]  # noqa: E731
    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma, dout)
    db_num = eval_numerical_gradient_array(fb, beta, dout)
    _, cache = forward(x, gamma, beta)
    dx, dgamma, dbeta = backward(dout, cache)
    for num, got in ((dx_num, dx), (da_num, dgamma), (db_num, dbeta)):
        assert num.shape == got.shape and rel_error(num, got) < bound


@pytest.mark.parametrize("cell", ["2019_cell37", "2022_cell44"])
def test_spatial_batchnorm_backward(cell):
    """"You should expect errors of magnitudes between 1e-12~1e-06"."""
    from cs231n.classifiers.cnn import spatial_batchnorm_backward, spatial_batchnorm_forward
    np.random.seed(231)
    N, C, H, W = 2, 3, 4, 5
    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma, beta, dout = np.random.randn(C), np.random.randn(C), np.random.randn(N, C, H, W)
    bn_param = {'mode': 'train'}
    _norm_backward_check(lambda x, g, b: spatial_batchnorm_forward(x, g, b, bn_param), spatial_batchnorm_backward,
                         x, gamma, beta, dout, 1e-6)


@pytest.mark.parametrize("cell", ["2019_cell40", "2022_cell47"])
def test_spatial_groupnorm_train_forward(cell):
    """"Means should be close to zero and stds close to one", per group. Neither copy's saved
    stds can be matched: 2019's (0.99999834, ...) are those of a larger eps than the 1e-5 of
    the course's default, 2022's come with an output of shape (1, 1, 6, 2, 6, 4, 5), its bug.
    The stds are checked against their exact value for eps = 1e-5, sqrt(var / (var + eps))."""
    from cs231n.classifiers.cnn import spatial_groupnorm_forward
    np.random.seed(231)
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 4 * np.random.randn(N, C, H, W) + 10
    np.testing.assert_allclose(x.reshape((N * G, -1)).mean(axis=1), [9.72505327, 8.51114185, 8.9147544, 9.43448077],
                               rtol=1e-8)
    out, _ = spatial_groupnorm_forward(x, np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1)), G, {'mode': 'train'})
    assert out.shape == (N, C, H, W)
    out_g = out.reshape((N * G, -1))
    np.testing.assert_allclose(out_g.mean(axis=1), 0, atol=1e-15)
    var = x.reshape((N * G, -1)).var(axis=1)
    np.testing.assert_allclose(out_g.std(axis=1), np.sqrt(var / (var + 1e-5)), rtol=1e-12)
    assert np.all(np.abs(out_g.std(axis=1) - 1) < 1e-6)


@pytest.mark.parametrize("cell", ["2019_cell42", "2022_cell49"])
def test_spatial_groupnorm_backward(cell):
    """"You should expect errors of magnitudes between 1e-12~1e-07" (2022's saved 1.0: its bug)."""
    from cs231n.classifiers.cnn import spatial_groupnorm_backward, spatial_groupnorm_forward
    np.random.seed(231)
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma, beta = np.random.randn(1, C, 1, 1), np.random.randn(1, C, 1, 1)
    dout = np.random.randn(N, C, H, W)
    _norm_backward_check(lambda x, g, b: spatial_groupnorm_forward(x, g, b, G, {}), spatial_groupnorm_backward,
                         x, gamma, beta, dout, 1e-7)
