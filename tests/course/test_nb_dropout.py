"""Dropout.ipynb: 2019 cells 4, 6, 9; 2022 cells 5, 7, 10 (see course_checks.py for the copies).

The masks are the course's: drawn from NumPy's global generator (``np.random.rand``), which
a ``seed`` in dropout_param reseeds, so the saved means and losses are matched exactly.
"""

import numpy as np
import pytest

from course_checks import cs231n  # noqa: F401 (autouse: import cs231n resolves to tallynet.course)
from course_checks import around, model_grad_errors, rel_error

# saved output, the same in both years: p -> (mean of the train-time output, fraction zeroed)
TRAIN_STATS = {0.25: (10.014059116977283, 0.749784), 0.4: (9.977917658761159, 0.600796),
               0.7: (9.987811912159426, 0.30074)}


@pytest.mark.parametrize("cell", ["2019_cell4", "2022_cell5"])
def test_dropout_forward(cell):
    from cs231n.classifiers.fc_net import dropout_forward
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    for p in [0.25, 0.4, 0.7]:
        out, _ = dropout_forward(x, {'mode': 'train', 'p': p})
        out_test, _ = dropout_forward(x, {'mode': 'test', 'p': p})
        assert x.mean() == pytest.approx(10.000207878477502, rel=1e-14)
        assert out.mean() == pytest.approx(TRAIN_STATS[p][0], rel=1e-14)
        assert (out == 0).mean() == TRAIN_STATS[p][1]
        assert out_test.mean() == x.mean() and (out_test == 0).mean() == 0.0


@pytest.mark.parametrize("cell", ["2019_cell6", "2022_cell7"])
def test_dropout_backward(cell):
    from cs231n.classifiers.fc_net import dropout_backward, dropout_forward
    from cs231n.gradient_check import eval_numerical_gradient_array
    np.random.seed(231)
    x = np.random.randn(10, 10) + 10
    dout = np.random.randn(*x.shape)
    dropout_param = {'mode': 'train', 'p': 0.2, 'seed': 123}
    out, cache = dropout_forward(x, dropout_param)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda xx: dropout_forward(xx, dropout_param)[0], x, dout)
    assert rel_error(dx, dx_num) < around(-10)
    assert rel_error(dx, dx_num) == pytest.approx(5.44560814873387e-11, rel=1e-3)  # saved, both years


# saved initial losses; the third depends on the course's dropout reseeding the global generator
# during the second's gradient check, before the third net draws its weights
DROPOUT_NET_LOSSES = {"2019": {1: 2.3004790897684924, 0.75: 2.302371489704412, 0.5: 2.3042759220785896},
                      "2022": {1: 2.300479089768492, 0.75: 2.302371489704412, 0.5: 2.30427592207859}}


@pytest.mark.parametrize("year", ["2019", "2022"], ids=["2019_cell9", "2022_cell10"])
def test_fully_connected_net_with_dropout(year):
    from cs231n.classifiers.fc_net import FullyConnectedNet
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for keep in [1, 0.75, 0.5]:
        # the 2019 notebook names the keep probability `dropout`, the 2022 one `dropout_keep_ratio`
        name = "dropout" if year == "2019" else "dropout_keep_ratio"
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=5e-2, dtype=np.float64,
                                  seed=123, **{name: keep})
        loss, _ = model.loss(X, y)
        assert loss == pytest.approx(DROPOUT_NET_LOSSES[year][keep], rel=1e-14)
        # "Relative errors should be around e-6 or less; ... for dropout=1 ... W2 on the order of e-5"
        errors = model_grad_errors(model, X, y)
        assert errors.pop("W2") < (around(-5) if keep == 1 else around(-6))
        assert max(errors.values()) < around(-6)
