"""A drop-in for the course's ``cs231n`` package (Stanford CS231n, assignment 2).

The submodules mirror the course's layout and export tallynet's implementations under
the course's names; nothing is implemented here, only mapped:

==============================  ==============================================================
``cs231n.layers``               :mod:`tallynet.layers` (the functional ``x_forward``/``x_backward`` API)
``cs231n.fast_layers``          the fast convolution and pooling kernels, under every name the
                                course exports (``conv_forward_im2col``, ``conv_forward_strides``,
                                ``max_pool_forward_reshape``, ...: one im2col kernel each way)
``cs231n.layer_utils``          :mod:`tallynet.layers.sandwich`
``cs231n.im2col``               ``get_im2col_indices``, ``im2col_indices``, ``col2im_indices``
``cs231n.gradient_check``       :mod:`tallynet.gradcheck`
``cs231n.optim``                :mod:`tallynet.optim`
``cs231n.solver``               :class:`tallynet.solver.Solver`
``cs231n.classifiers.fc_net``   ``FullyConnectedNet``, ``TwoLayerNet``
``cs231n.classifiers.cnn``      ``ThreeLayerConvNet``
``cs231n.data_utils``           ``get_CIFAR10_data`` over :func:`tallynet.data.load_cifar10`
``cs231n.vis_utils``            ``visualize_grid`` (:func:`tallynet.plot.image_grid`)
==============================  ==============================================================

In a notebook, either import these modules directly::

    from tallynet.course.layers import *

or make the course's own imports resolve to them, before the first ``import cs231n``::

    import tallynet.course
    tallynet.course.install()           # registers cs231n and cs231n.* in sys.modules
    from cs231n.classifiers.fc_net import *
"""

import importlib
import sys

#: the course's submodules, as ``import cs231n.<name>`` names them
SUBMODULES = ("layers", "fast_layers", "layer_utils", "im2col", "gradient_check", "optim", "solver",
              "data_utils", "vis_utils", "classifiers", "classifiers.fc_net", "classifiers.cnn")


def install(name="cs231n"):
    """Register this package as ``name`` (default ``cs231n``) and each of its submodules as
    ``name.<submodule>`` in ``sys.modules``, so that the course's ``import cs231n.layers`` and
    ``from cs231n.classifiers.fc_net import *`` find tallynet's code. A package of that name
    imported earlier is replaced. Returns the package."""
    package = sys.modules[__name__]
    sys.modules[name] = package
    for sub in SUBMODULES:
        sys.modules[f"{name}.{sub}"] = importlib.import_module(f"{__name__}.{sub}")
    return package
