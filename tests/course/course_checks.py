"""Shared by the checks of the course's assignment-2 notebooks, run with tallynet in place of ``cs231n``.

Each test reproduces one notebook cell that needs no CIFAR-10: the cell's code with the
course's imports resolved by ``tallynet.course.install()``, then the cell's own check
(the tolerance its comment states) and, where the cell is deterministic, the numbers
its saved output prints. The notebooks are public copies of two years' versions:

- 2019: https://github.com/1999ADEK/CS231n-2019 (commit e1b5019a), assignment2/*.ipynb
- 2022: https://github.com/AnirudhM1/CS231n-2022-Solutions (commit 7a5b4949), assignment2/*.ipynb

The cells are cited by their index among the notebook's cells (code and markdown,
from 0). The saved outputs are the students' runs of their own solutions; where a
student's solution was wrong (the 2022 copy's conv backward and groupnorm print a
relative error of 1.0), the notebook's stated tolerance is the check, and the README
lists those outputs among the ones that cannot be matched.

"Around e-N or less" in a notebook's comment is taken as below 10^(1 - N): the next
order of magnitude, the slack the notebooks themselves leave ("correct implementations
may have relative errors up to ...").
"""

import sys

import numpy as np
import pytest

import tallynet.course


@pytest.fixture(autouse=True)
def cs231n():
    """``import cs231n`` resolves to tallynet.course for the test, as after install() in a notebook."""
    saved = {k: v for k, v in sys.modules.items() if k == "cs231n" or k.startswith("cs231n.")}
    yield tallynet.course.install()
    for k in [k for k in sys.modules if k == "cs231n" or k.startswith("cs231n.")]:
        del sys.modules[k]
    sys.modules.update(saved)


def rel_error(x, y):
    """The notebooks' own helper, as their first cell defines it."""
    return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))


def around(exponent):
    """The bound for "the error should be around e<exponent> or less": 10^(exponent + 1)."""
    return 10.0 ** (exponent + 1)


def model_grad_errors(model, X, y, h=1e-5):
    """The notebooks' model gradient check loop: ``{name: relative error}`` over sorted(grads)."""
    from cs231n.gradient_check import eval_numerical_gradient
    _, grads = model.loss(X, y)
    errors = {}
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]  # noqa: E731
        errors[name] = rel_error(eval_numerical_gradient(f, model.params[name], verbose=False, h=h), grads[name])
    return errors
