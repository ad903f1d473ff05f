"""Group normalization: kernels (the course's spatial_groupnorm_*), the GroupNorm layer, its cost."""

import numpy as np
import pytest

from tallynet.gradcheck import eval_numerical_gradient_array, rel_error
from tallynet.layers import (LAYER_TYPES, GroupNorm, spatial_groupnorm_backward, spatial_groupnorm_forward,
                             spatial_layernorm_forward)
from tallynet.models import from_spec
from tallynet.profile import count_layer


def inputs(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    C = shape[1]
    return (5 * rng.standard_normal(shape) + 12).astype(dtype), rng.standard_normal(C).astype(dtype), \
        rng.standard_normal(C).astype(dtype), rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("shape,G", [((2, 6, 4, 5), 2), ((3, 4, 3, 3), 1), ((2, 4, 2, 3), 4), ((5, 6), 2)])  # groups of >= 3 values
def test_gradients_match_numerical_in_float64(shape, G):
    x, gamma, beta, dout = inputs(shape)
    f = lambda: spatial_groupnorm_forward(x, gamma, beta, G)[0]  # noqa: E731
    _, cache = spatial_groupnorm_forward(x, gamma, beta, G)
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    for got, param in ((dx, x), (dgamma, gamma), (dbeta, beta)):
        assert rel_error(got, eval_numerical_gradient_array(lambda _: f(), param, dout)) < 1e-7


def test_each_group_is_standardized_and_one_group_is_layernorm():
    x, gamma, beta, _ = inputs((2, 6, 4, 5))
    out, _ = spatial_groupnorm_forward(x, np.ones(6), np.zeros(6), 3)
    groups = out.reshape(2 * 3, -1)
    np.testing.assert_allclose(groups.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(groups.std(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(spatial_groupnorm_forward(x, gamma, beta, 1)[0],
                               spatial_layernorm_forward(x, gamma, beta)[0], rtol=1e-12)


def test_course_shaped_scale_and_shift_give_gradients_of_that_shape():
    x, gamma, beta, dout = inputs((2, 6, 4, 5))
    out, cache = spatial_groupnorm_forward(x, gamma.reshape(1, 6, 1, 1), beta.reshape(1, 6, 1, 1), 2, {"mode": "train"})
    np.testing.assert_array_equal(out, spatial_groupnorm_forward(x, gamma, beta, 2)[0])
    _, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    assert dgamma.shape == dbeta.shape == (1, 6, 1, 1)


def test_matches_torch_group_norm():
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = inputs((3, 8, 5, 4))
    layer = torch.nn.GroupNorm(4, 8, eps=1e-5).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(gamma))
        layer.bias.copy_(torch.tensor(beta))
    tx = torch.tensor(x, requires_grad=True)
    want = layer(tx)
    want.backward(torch.tensor(dout))
    out, cache = spatial_groupnorm_forward(x, gamma, beta, 4)
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    np.testing.assert_allclose(out, want.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(dgamma, layer.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(dbeta, layer.bias.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 6, 4, 5), (6, 4)])
def test_layer_counted_flops_equal_predicted_and_the_layer_runs_the_kernels(shape, dtype):
    layer = GroupNorm(2)
    assert LAYER_TYPES["groupnorm"] is GroupNorm and layer.config() == {"groups": 2, "eps": 1e-5}
    fwd, bwd, unknown = count_layer(layer, shape, dtype)
    predicted = layer.exact_flops(shape)
    assert not unknown and predicted.forward == fwd and predicted.backward == bwd
    assert layer.cache_bytes(shape, 8) == (int(np.prod(shape)) + 2 * shape[0] * 2) * 8
    x, gamma, beta, dout = inputs(shape, dtype)
    out, cache = layer.forward(x, {"gamma": gamma, "beta": beta}, "test")
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, spatial_groupnorm_forward(x, gamma, beta, 2)[0])
    dx, grads = layer.backward(dout, cache)
    assert grads["gamma"].shape == (shape[1],)


def test_bad_groups_and_parameters_name_the_argument():
    x, gamma, beta, _ = inputs((2, 6, 4, 5))
    with pytest.raises(ValueError, match="G = 4 groups must divide the 6 channels"):
        spatial_groupnorm_forward(x, gamma, beta, 4)
    with pytest.raises(ValueError, match="^gamma has shape"):
        spatial_groupnorm_forward(x, gamma[:5], beta, 2)
    with pytest.raises(ValueError, match="groups = 4 must divide the input's 6 channels"):
        GroupNorm(4).output_shape((2, 6, 4, 5))
    with pytest.raises(TypeError, match="groups must be an integer"):
        GroupNorm(2.5)


def test_a_spec_trains_with_groupnorm():
    model = from_spec({"input": [2, 6, 6], "dtype": "float64", "seed": 0, "layers": [
        {"conv": {"filters": 4, "kernel": 3, "pad": 1}}, {"groupnorm": {"groups": 2}}, "relu",
        "global_avgpool", {"affine": {"units": 3}}]})
    assert sorted(model.params) == ["W1", "W2", "b1", "b2", "beta1", "gamma1"]
    X, y = np.random.default_rng(0).standard_normal((4, 2, 6, 6)), np.array([0, 1, 2, 0])
    loss, grads = model.loss(X, y)
    for key in ("gamma1", "W1"):
        num = eval_numerical_gradient_array(lambda _: np.array(model.loss(X, y)[0]), model.params[key], np.array(1.0))
        assert rel_error(num, grads[key]) < 1e-6, key


def test_profiled_step_counts_and_memory_match_the_cost_model():
    """The reshape into groups is a view of a convolution's channel-major output: no copy to
    account for, the footprint is layernorm's (measured with tracemalloc)."""
    from tallynet.profile import profile
    spec = {"name": "gn", "input": [3, 16, 16], "batch": 32, "layers": [
        {"conv": {"filters": 8, "kernel": 3, "pad": 1}}, {"groupnorm": {"groups": 4}}, "relu", "global_avgpool",
        {"affine": {"units": 10}}]}
    p = profile(spec, steps=1, gemm_peak=1.0)
    gn = p.layers[1]
    assert gn.type == "groupnorm" and gn.matches and not p.unknown
    assert gn.measured_cache_bytes == gn.predicted_cache_bytes
    assert abs(gn.forward_peak_bytes - gn.predicted_forward_peak_bytes) <= 0.1 * gn.predicted_forward_peak_bytes
    assert abs(gn.backward_peak_bytes - gn.predicted_backward_peak_bytes) <= 0.1 * gn.predicted_backward_peak_bytes
