"""The torchvision-named presets against torchvision's own definitions (weights=None):
parameter counts, published GFLOPS, PyTorch's FlopCounterMode forward and backward, and the
logits with torchvision's model's (random) weights copied by module name."""

import numpy as np
import pytest

from tallynet.cost import summary
from tallynet.models import PRESETS
from tallynet.models.zoo import zoo
from torchvision_models import (flop_counter_mode, grouped_weight_gradient_excess, randomised_batchnorm, reference,
                                torchvision_models)

# the CNNs; vit_b_16's parameters are named by its modules differently (attention's own, the class
# token's at the top level), and tests/test_vit.py compares it with torchvision's
IMAGENET = sorted(name for name in zoo() if name not in ("resnet20", "vit_b_16"))


@pytest.mark.parametrize("name", IMAGENET)
def test_parameters_and_published_gflops_equal_torchvision(name):
    models = torchvision_models()
    meta = models.get_model_weights(name).DEFAULT.meta
    t = summary(name, batch=1, convention="macs").totals()
    assert t["params"] == sum(p.numel() for p in reference(name).parameters()) == meta["num_params"]
    # torchvision's "GFLOPS" are multiply-accumulates of convolutions and linear layers, in billions
    assert round(t["forward_flops"] / 1e9, 3) == meta["_ops"]


@pytest.mark.parametrize("name", IMAGENET)
def test_torch_convention_equals_flop_counter_mode(name):
    s = summary(name, batch=1, convention="torch")
    t = s.totals()
    excess = grouped_weight_gradient_excess(s)
    forward, backward = flop_counter_mode(name, input_requires_grad=True)
    assert forward == t["forward_flops"]
    assert backward == t["backward_flops"] + excess
    # without an input that requires grad, the first layer computes no input gradient: a training step
    _, step_backward = flop_counter_mode(name, input_requires_grad=False)
    assert step_backward == t["step_backward_flops"] + excess


def test_the_grouped_convolution_excess_is_real():
    # mobilenet_v2's (and mobilenet_v3_small's) depthwise convolutions are where FlopCounterMode
    # over-counts; resnet50 has none
    assert grouped_weight_gradient_excess(summary("mobilenet_v2", batch=1, convention="torch")) > 0
    assert grouped_weight_gradient_excess(summary("resnet50", batch=1, convention="torch")) == 0


@pytest.mark.parametrize("name", IMAGENET)
def test_node_names_are_torchvisions_module_names(name):
    modules = {n for n, m in reference(name).named_modules() if not list(m.children())}
    ours = {n for n in summary(name, batch=1).as_dict()["layers"] for n in [n["name"]]}
    parametrised = {l.name for l in summary(name, batch=1).layers if l.params}
    assert parametrised <= modules, sorted(parametrised - modules)[:5]
    assert ours


@pytest.mark.parametrize("name", IMAGENET)
def test_logits_equal_torchvision_s_with_its_weights(name):
    # counts cannot see the order of channels at a concatenation or a wrong eps: with torchvision's
    # (random) weights and running statistics copied by module name, the logits are its model's
    import torch

    from tallynet.imagenet.weights import load_torch_state_dict
    from tallynet.models import preset

    torch.manual_seed(0)
    theirs = randomised_batchnorm(reference(name)).double().eval()
    # every key of torchvision's state_dict must be a parameter or running statistic of the
    # preset's, shape for shape, and the reverse
    model = load_torch_state_dict(preset(name, dtype=np.float64), theirs.state_dict())
    X = np.random.default_rng(0).standard_normal((1, 3, 224, 224))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(model.loss(X), expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_resnet20_is_he_et_al_s_cifar_network():
    s = summary("resnet20", batch=1, convention="macs")
    assert s.totals()["params"] == 272_474  # "0.27M" in the paper's table 6 (option B shortcuts)
    assert sum(1 for l in s.layers if l.type == "conv" and l.layer.kh == 3) == 19
    assert PRESETS["resnet20"]["input"] == [3, 32, 32]


def test_resnet20_reaches_100_percent_on_64_cifar_shaped_samples():
    from tallynet.models import preset
    from tallynet.solver import Solver

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 3, 32, 32)).astype(np.float32), rng.integers(10, size=64)
    model = preset("resnet20", seed=0)
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, update_rule="adam",
                    optim_config={"learning_rate": 3e-3}, batch_size=32, num_epochs=15, verbose=False, seed=0)
    solver.train()
    assert solver.check_accuracy(X, y) == 1.0
