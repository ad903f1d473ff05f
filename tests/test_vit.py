"""Vision transformers: the ``vit_b_16`` preset against torchvision's own definition (weights=None),
and a tiny one (torchvision's VisionTransformer at 32x32, 2 blocks of 2 heads) for the logits,
every gradient, a float64 gradient check and training.

The counts are checked on the full vit_b_16 from shapes alone; the values on the tiny one,
which is cheap: the preset and the tiny network are the same function of their sizes
(``tallynet.models.zoo.vision_transformer``)."""

import numpy as np
import pytest

from tallynet.cost import summary
from tallynet.cost.walkthrough import walkthrough
from tallynet.models import SpecError, from_spec
from tallynet.models.zoo import vision_transformer
from conftest import assert_numerical_gradients
from torchvision_models import flop_counter_mode, torchvision_models

TINY = dict(image_size=32, patch_size=16, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=10)


def tiny_spec():
    return vision_transformer("vit_tiny", patch=16, layers=2, heads=2, hidden=16, mlp_dim=32, image=32, classes=10)


# --- counts, against torchvision's vit_b_16 -----------------------------------------------------
def _meta_vit_b_16():
    """torchvision's vit_b_16 on the meta device: its parameters' shapes, none of their 346 MB."""
    import torch

    with torch.device("meta"):
        return torchvision_models().vit_b_16()


def test_vit_b_16_parameters_and_published_gflops_equal_torchvision():
    meta = torchvision_models().ViT_B_16_Weights.IMAGENET1K_V1.meta
    t = summary("vit_b_16", batch=1, convention="macs").totals()
    assert t["params"] == sum(p.numel() for p in _meta_vit_b_16().parameters()) == meta["num_params"] == 86_567_656
    assert round(t["forward_flops"] / 1e9, 3) == meta["_ops"] == 17.564


def test_vit_b_16_macs_counted_by_hand_include_the_attention_products():
    # 224 / 16 = 14: L = 196 patches + the class token, D = 768, 12 blocks, MLP 3072. Per block:
    # the q, k, v projections L 3D D, the scores q k^T and the weighted sum P v L L D each (all
    # heads together: h L L d = L L D), the output projection L D D, the MLP's two linear layers.
    L, D, M = 197, 768, 3072
    patches = 196 * D * 3 * 16 * 16
    block = L * 3 * D * D + 2 * L * L * D + L * D * D + 2 * L * D * M
    head = D * 1000
    macs = patches + 12 * block + head
    assert summary("vit_b_16", batch=1, convention="macs").totals()["forward_flops"] == macs
    # torchvision's _ops is 17.564: without the attention products (12 x 2 L L D = 0.715 G) it would be 16.849
    assert round(macs / 1e9, 3) == 17.564 and round((macs - 12 * 2 * L * L * D) / 1e9, 3) == 16.849


def _flop_counter_mode(input_requires_grad):
    """FlopCounterMode's forward and backward of torchvision's vit_b_16 on 1x3x224x224, on the meta
    device (shapes only). There scaled_dot_product_attention runs PyTorch's math path, as bmm: two
    per block forward (q k^T, P v) and four backward (two per product), each 2 FLOPs per MAC.
    (On CPU tensors PyTorch picks _scaled_dot_product_flash_attention_for_cpu, which FlopCounterMode
    has no formula for: it counts attention as 0 there.)"""
    return flop_counter_mode("vit_b_16", input_requires_grad, _meta_vit_b_16())


def test_vit_b_16_torch_convention_equals_flop_counter_mode():
    t = summary("vit_b_16", batch=1, convention="torch").totals()
    forward, backward = _flop_counter_mode(input_requires_grad=True)
    assert (forward, backward) == (t["forward_flops"], t["backward_flops"])
    # without an input that requires grad, conv_proj computes no input gradient: a training step
    assert _flop_counter_mode(input_requires_grad=False)[1] == t["step_backward_flops"] < t["backward_flops"]


def _torchvision_key(key):
    """torchvision's state_dict key of a tallynet parameter: W, b -> weight, bias; gamma, beta ->
    weight, bias; attention's and the embedding's keep their names; the class token is the
    top-level parameter ``class_token`` (tallynet's node ``class_token``, parameter ``class_token``)."""
    node, local = key.rsplit(".", 1)
    if key == "class_token.class_token":
        return "class_token"
    names = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias"}
    return f"{node}.{names[local]}" if local in names else key


def test_vit_b_16_parameters_are_torchvisions_by_name_and_shape():
    model = _meta_vit_b_16()
    reference = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    ours = summary("vit_b_16", batch=1).layers
    # every node that is a module in torchvision's model has its name (attention's has a child, out_proj)
    modules = {name for name, _ in model.named_modules()}
    operations = {"reshape", "permute", "class_token", "pos_embedding", "add", "select"}
    assert {l.name for l in ours if l.type not in operations} <= modules
    shapes = {f"{l.name}.{local}": shape for l in ours for local, shape in l.layer.param_shapes(l.input_shape).items()}
    mapped = {_torchvision_key(k): s for k, s in shapes.items()}
    assert set(mapped) == set(reference)
    for key, shape in mapped.items():  # linear and convolution weights: tallynet's affine W is (in, out)
        assert shape == reference[key] or shape[::-1] == reference[key], key


# --- values, against the tiny VisionTransformer ---------------------------------------------------
def _tiny_pair():
    """torchvision's tiny VisionTransformer (random weights, float64) and tallynet's, holding its weights."""
    import torch

    torch.manual_seed(0)
    reference = torchvision_models().VisionTransformer(**TINY).double()
    with torch.no_grad():  # torchvision starts the class token, the head and the biases at zero
        for p in reference.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    state = {k: v.detach().numpy() for k, v in reference.state_dict().items()}
    model = from_spec(tiny_spec(), dtype=np.float64, seed=0)
    for key, value in model.params.items():
        weight = state[_torchvision_key(key)]
        value[...] = weight.T if weight.ndim == 2 and weight.shape != value.shape else weight
    return reference, model


def test_tiny_vit_logits_and_every_gradient_equal_torchvisions():
    import torch

    reference, model = _tiny_pair()
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((3, 3, 32, 32)), np.array([1, 7, 3])
    logits = reference(torch.from_numpy(X))
    np.testing.assert_allclose(model.loss(X), logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)).backward()
    loss, grads = model.loss(X, y)
    named = dict(reference.named_parameters())
    for key, grad in grads.items():
        theirs = named[_torchvision_key(key)].grad.numpy()
        np.testing.assert_allclose(grad, theirs.T if theirs.shape != grad.shape else theirs, rtol=1e-8, atol=1e-12,
                                   err_msg=key)


def test_tiny_vit_twin_computes_what_torchvisions_does():
    import torch

    from tallynet.torch_bridge import to_torch

    reference, model = _tiny_pair()
    X = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 3, 32, 32)))
    with torch.no_grad():
        np.testing.assert_allclose(to_torch(model).eval()(X).numpy(), reference.eval()(X).numpy(), rtol=1e-10,
                                   atol=1e-12)


def test_tiny_vit_gradients_pass_a_float64_check_through_the_graph_executor():
    # 8x8 images in 4x4 patches: 4 tokens and the class token of 8 features, 2 blocks of 2 heads
    # (conv 392, token 8, embedding 40, 2 blocks of 600, final layernorm 16, head 45: 1,701 parameters,
    # every one checked)
    spec = vision_transformer("vit_check", patch=4, layers=2, heads=2, hidden=8, mlp_dim=16, image=8, classes=5)
    model = from_spec(spec, dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    for value in model.params.values():  # away from zero biases and class token, so every path is exercised
        value += 0.2 * rng.standard_normal(value.shape)
    X, y = rng.standard_normal((2, 3, 8, 8)), np.array([4, 1])
    _, grads = model.loss(X, y)
    assert sum(v.size for v in model.params.values()) == 1701
    assert_numerical_gradients(lambda: model.loss(X, y)[0], model.params, grads, tol=1e-6)


def test_tiny_vit_trains_with_adam():
    from tallynet.solver import Solver

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 3, 32, 32)).astype(np.float32), rng.integers(10, size=16)
    model = from_spec(tiny_spec(), seed=0)
    before = model.loss(X, y)[0]
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, update_rule="adam",
                    optim_config={"learning_rate": 3e-3}, batch_size=16, num_epochs=15, verbose=False, seed=0)
    solver.train()
    assert model.loss(X, y)[0] < 0.5 * before
    assert solver.check_accuracy(X, y) >= 0.75


# --- the summary, the walkthrough and the spec --------------------------------------------------
def test_vit_b_16_summary_and_walkthrough_render():
    from tallynet.cost.render import to_markdown

    s = summary("vit_b_16", batch=1, convention="exact")
    text = to_markdown(s)
    for shown in ("| Self-attention |", "| Embedding |", "| Reshape |", "| class_token | (1, 196, 768) | (1, 197, 768)",
                  "| class_token_output | (1, 197, 768) | (1, 768) |"):
        assert shown in text, shown
    doc = walkthrough("vit_b_16", batch=1, convention="macs")
    for shown in ("Multi-head Self-attention", r"scores $q k^T$", "Class Token", "Positional Embedding"):
        assert shown in doc, shown


def test_repeated_blocks_take_a_pattern_of_names():
    spec = tiny_spec()
    names = [l.name for l in summary(spec, batch=1).layers]
    assert "encoder.layers.encoder_layer_1.self_attention" in names and "encoder.layers.1.ln_1" not in names
    use = spec["nodes"][5]["encoder.layers"]
    for bad in ("encoder_layer", "layer_{i}", 3):
        use["names"] = bad
        with pytest.raises(SpecError, match="'names' must be a pattern"):
            from_spec(spec)


def test_the_readme_quotes_vit_b_16_s_counts():
    import pathlib

    from tallynet.cost.render import fmt_flops

    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    torch_t = summary("vit_b_16", batch=1, convention="torch").totals()
    exact = summary("vit_b_16", batch=1, convention="exact").totals()
    assert f"| parameters | {torch_t['params']:,} |" in readme
    assert f"| `torch` forward / backward | {torch_t['forward_flops']:,} / {torch_t['backward_flops']:,} |" in readme
    assert f"| `exact` forward / backward | {fmt_flops(exact['forward_flops'])} / " \
           f"{fmt_flops(exact['backward_flops'])} |" in readme


def test_a_profiled_vit_step_counts_what_every_node_predicts():
    # proof by execution through the whole graph: every node's counted FLOPs equal its exact count,
    # kind by kind, and the counter priced every operation it met
    from tallynet.profile import profile

    p = profile(tiny_spec(), batch=4, steps=1, gemm_peak=1.0)
    assert p.mismatches() == [] and not p.unknown
    assert {l.type for l in p.layers} >= {"multihead_attention", "class_token", "pos_embedding", "select", "permute"}
