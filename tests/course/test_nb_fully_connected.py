"""FullyConnectedNets.ipynb: 2019 cells 5-37, 2022 cells 6-19 (see course_checks.py for the copies)."""

import numpy as np
import pytest

from course_checks import cs231n  # noqa: F401 (autouse: import cs231n resolves to tallynet.course)
from course_checks import around, model_grad_errors, rel_error


def test_affine_forward_2019_cell5():
    from cs231n.classifiers.fc_net import affine_forward
    num_inputs, input_shape, output_dim = 2, (4, 5, 6), 3
    input_size = num_inputs * np.prod(input_shape)
    weight_size = output_dim * np.prod(input_shape)
    x = np.linspace(-0.1, 0.5, num=input_size).reshape(num_inputs, *input_shape)
    w = np.linspace(-0.2, 0.3, num=weight_size).reshape(np.prod(input_shape), output_dim)
    b = np.linspace(-0.3, 0.1, num=output_dim)
    out, _ = affine_forward(x, w, b)
    correct_out = np.array([[1.49834967, 1.70660132, 1.91485297],
                            [3.25553199, 3.5141327, 3.77273342]])
    assert rel_error(out, correct_out) < around(-9)
    assert rel_error(out, correct_out) == pytest.approx(9.769847728806635e-10, rel=1e-6)  # saved output


def _seeded(*shapes):
    np.random.seed(231)
    return [np.random.randn(*s) for s in shapes]


def test_affine_backward_2019_cell7():
    from cs231n.classifiers.fc_net import affine_backward, affine_forward
    from cs231n.gradient_check import eval_numerical_gradient_array
    x, w, b, dout = _seeded((10, 2, 3), (6, 5), (5,), (10, 5))
    dx_num = eval_numerical_gradient_array(lambda x: affine_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_forward(x, w, b)[0], b, dout)
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    for num, got in ((dx_num, dx), (dw_num, dw), (db_num, db)):
        assert rel_error(num, got) < around(-10)


def test_relu_forward_2019_cell9():
    from cs231n.classifiers.fc_net import relu_forward
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    correct_out = np.array([[0., 0., 0., 0.],
                            [0., 0., 0.04545455, 0.13636364],
                            [0.22727273, 0.31818182, 0.40909091, 0.5]])
    assert rel_error(out, correct_out) < around(-8)
    assert rel_error(out, correct_out) == pytest.approx(4.999999798022158e-08, rel=1e-6)


def test_relu_backward_2019_cell11():
    from cs231n.classifiers.fc_net import relu_backward, relu_forward
    from cs231n.gradient_check import eval_numerical_gradient_array
    x, dout = _seeded((10, 10), (10, 10))
    dx_num = eval_numerical_gradient_array(lambda x: relu_forward(x)[0], x, dout)
    _, cache = relu_forward(x)
    assert rel_error(dx_num, relu_backward(dout, cache)) < around(-12)


def test_affine_relu_2019_cell14():
    from cs231n.gradient_check import eval_numerical_gradient_array
    from cs231n.layer_utils import affine_relu_backward, affine_relu_forward
    x, w, b, dout = _seeded((2, 3, 4), (12, 10), (10,), (2, 10))
    out, cache = affine_relu_forward(x, w, b)
    grads = affine_relu_backward(dout, cache)
    for arg, got in zip(("x", "w", "b"), grads):
        f = {"x": lambda v: affine_relu_forward(v, w, b)[0], "w": lambda v: affine_relu_forward(x, v, b)[0],
             "b": lambda v: affine_relu_forward(x, w, v)[0]}[arg]
        assert rel_error(eval_numerical_gradient_array(f, {"x": x, "w": w, "b": b}[arg], dout), got) < around(-10)


def test_svm_and_softmax_losses_2019_cell16():
    from cs231n.classifiers.fc_net import softmax_loss, svm_loss
    from cs231n.gradient_check import eval_numerical_gradient
    np.random.seed(231)
    x = 0.001 * np.random.randn(50, 10)
    y = np.random.randint(10, size=50)
    dx_num = eval_numerical_gradient(lambda x: svm_loss(x, y)[0], x, verbose=False)
    loss, dx = svm_loss(x, y)
    assert loss == pytest.approx(8.999602749096233, rel=1e-13)  # "around 9"
    assert rel_error(dx_num, dx) < around(-9)
    dx_num = eval_numerical_gradient(lambda x: softmax_loss(x, y)[0], x, verbose=False)
    loss, dx = softmax_loss(x, y)
    assert loss == pytest.approx(2.302545844500738, rel=1e-13)  # "close to 2.3"
    assert rel_error(dx_num, dx) < around(-8)


def test_two_layer_net_2019_cell18():
    from cs231n.classifiers.fc_net import TwoLayerNet
    np.random.seed(231)
    N, D, H, C = 3, 5, 50, 7
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=N)
    std = 1e-3
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=std)
    assert abs(model.params['W1'].std() - std) < std / 10, 'First layer weights do not seem right'
    assert np.all(model.params['b1'] == 0), 'First layer biases do not seem right'
    assert abs(model.params['W2'].std() - std) < std / 10, 'Second layer weights do not seem right'
    assert np.all(model.params['b2'] == 0), 'Second layer biases do not seem right'
    model.params['W1'] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params['b1'] = np.linspace(-0.1, 0.9, num=H)
    model.params['W2'] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params['b2'] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    scores = model.loss(X)
    correct_scores = np.asarray(
        [[11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
         [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
         [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])
    assert np.abs(scores - correct_scores).sum() < 1e-6, 'Problem with test-time forward pass'
    y = np.asarray([0, 5, 1])
    loss, grads = model.loss(X, y)
    assert abs(loss - 3.4702243556) < 1e-10, 'Problem with training-time loss'
    model.reg = 1.0
    loss, grads = model.loss(X, y)
    assert abs(loss - 26.5948426952) < 1e-10, 'Problem with regularization loss'
    for reg in [0.0, 0.7]:
        model.reg = reg
        assert max(model_grad_errors(model, X, y).values()) < around(-7)


# the saved initial losses of the multi-layer net's check (2019 cell 24, 2022 cell 6)
FCNET_LOSSES = {"2019": {0: 2.3004790897684924, 3.14: 7.052114776533016},
                "2022": {0: 2.300479089768492, 3.14: 7.052114776533016}}


@pytest.mark.parametrize("year", ["2019", "2022"], ids=["2019_cell24", "2022_cell6"])
def test_fully_connected_net_initial_loss_and_gradients(year):
    from cs231n.classifiers.fc_net import FullyConnectedNet
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for reg in [0, 3.14]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2,
                                  dtype=np.float64)
        loss, _ = model.loss(X, y)
        assert loss == pytest.approx(FCNET_LOSSES[year][reg], rel=1e-14)
        # "Most of the errors should be on the order of e-7 or smaller ... an error for W2 on
        # the order of e-5 for the check when reg = 0.0" is fine
        errors = model_grad_errors(model, X, y)
        assert errors.pop("W2") < (around(-5) if reg == 0 else around(-7))
        assert max(errors.values()) < around(-7)


def _linspace_wdv(*extra):
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    return (w, dw) + tuple(np.linspace(a, b, num=N * D).reshape(N, D) for a, b in extra)


@pytest.mark.parametrize("cell", ["2019_cell32", "2022_cell14"])
def test_sgd_momentum(cell):
    from cs231n.optim import sgd_momentum
    w, dw, v = _linspace_wdv((0.6, 0.9))
    config = {'learning_rate': 1e-3, 'velocity': v}
    next_w, _ = sgd_momentum(w, dw, config=config)
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    assert rel_error(next_w, expected_next_w) == pytest.approx(8.882347033505819e-09, rel=1e-6)  # saved, both years
    assert rel_error(expected_velocity, config['velocity']) == pytest.approx(4.269287743278663e-09, rel=1e-6)
    assert rel_error(next_w, expected_next_w) < around(-8)


@pytest.mark.parametrize("cell", ["2019_cell36", "2022_cell18"])
def test_rmsprop(cell):
    from cs231n.optim import rmsprop
    w, dw, cache = _linspace_wdv((0.6, 0.9))
    config = {'learning_rate': 1e-2, 'cache': cache}
    next_w, _ = rmsprop(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    assert rel_error(expected_next_w, next_w) == pytest.approx(9.524687511038133e-08, rel=1e-6)
    assert rel_error(expected_cache, config['cache']) == pytest.approx(2.6477955807156126e-09, rel=1e-6)
    assert rel_error(expected_next_w, next_w) < around(-7)


@pytest.mark.parametrize("cell", ["2019_cell37", "2022_cell19"])
def test_adam(cell):
    from cs231n.optim import adam
    w, dw, m, v = _linspace_wdv((0.6, 0.9), (0.7, 0.5))
    config = {'learning_rate': 1e-2, 'm': m, 'v': v, 't': 5}
    next_w, _ = adam(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    assert rel_error(expected_next_w, next_w) == pytest.approx(1.1395691798535431e-07, rel=1e-6)
    assert rel_error(expected_v, config['v']) == pytest.approx(4.208314038113071e-09, rel=1e-6)
    assert rel_error(expected_m, config['m']) == pytest.approx(4.214963193114416e-09, rel=1e-6)
    assert rel_error(expected_next_w, next_w) < around(-7)
