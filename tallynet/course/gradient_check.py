"""``cs231n.gradient_check``: :mod:`tallynet.gradcheck` under the course's names."""

from ..gradcheck import (eval_numerical_gradient, eval_numerical_gradient_array, eval_numerical_gradient_blobs,
                         eval_numerical_gradient_net, grad_check_sparse, rel_error)

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "eval_numerical_gradient_blobs",
           "eval_numerical_gradient_net", "grad_check_sparse", "rel_error"]
