"""Graph models: residual, concatenated and squeeze-excitation blocks through the one executor,
graph specs (blocks, repeat, inputs) and what they refuse, PyTorch parity, checkpoints, profiles."""

import numpy as np
import pytest

from conftest import assert_numerical_gradients
from tallynet.cost import summary
from tallynet.models import Graph, SpecError, from_spec
from tallynet.models.nodes import MODEL_INPUT, training_passes
from tallynet.profile import profile
from tallynet.solver import Solver

rng = np.random.default_rng(5)

RESIDUAL = {"name": "residual", "input": [3, 6, 6], "nodes": [
    {"stem": {"conv": {"filters": 4, "kernel": 3, "pad": 1}}},
    {"conv1": {"conv": {"filters": 4, "kernel": 3, "pad": 1}}}, {"bn1": "batchnorm"}, {"relu1": "relu"},
    {"conv2": {"conv": {"filters": 4, "kernel": 3, "pad": 1}}}, {"bn2": "batchnorm"},
    {"add": {"add": None, "inputs": ["bn2", "stem"]}}, {"relu2": "relu"},
    {"pool": "global_avgpool"}, {"fc": {"affine": {"units": 3}}}]}

CONCAT = {"name": "inception-like", "input": [2, 5, 5], "nodes": [
    {"a": {"conv": {"filters": 3, "kernel": 1}, "inputs": "input"}},
    {"b": {"conv": {"filters": 2, "kernel": 3, "pad": 1}, "inputs": "input"}},
    {"b_relu": "relu"},
    {"pool": {"avgpool": {"kernel": 1}, "inputs": "input"}},
    {"cat": {"concat": None, "inputs": ["a", "b_relu", "pool"]}},
    {"bn": "batchnorm"}, {"flat": "flatten"}, {"fc": {"affine": {"units": 4}}}]}

SQUEEZE_EXCITATION = {"name": "se", "input": [4, 5, 5], "nodes": [
    {"conv": {"conv": {"filters": 6, "kernel": 3, "pad": 1}}},
    {"squeeze": "global_avgpool"}, {"fc1": {"affine": {"units": 3}}}, {"relu": "relu"},
    {"fc2": {"affine": {"units": 6}}}, {"gate": "sigmoid"},
    {"scale": {"mul": None, "inputs": ["conv", "gate"]}},
    {"pool": "global_avgpool"}, {"fc": {"affine": {"units": 3}}}]}


def _gradients_match(spec, batch=3, tol=1e-6):
    model = from_spec(spec, dtype=np.float64, seed=1)
    for key in model.params:  # biases off zero: no ReLU input exactly on its kink
        if key.endswith(".b"):
            model.params[key] += 0.1 * rng.standard_normal(model.params[key].shape)
    X = rng.standard_normal((batch,) + model.input_shape)
    y = rng.integers(model.output_shape[-1], size=batch)
    loss, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    assert_numerical_gradients(lambda: model.loss(X, y)[0], model.params, grads, tol=tol)
    return model


@pytest.mark.parametrize("spec", [RESIDUAL, CONCAT, SQUEEZE_EXCITATION], ids=["residual", "concat", "se"])
def test_gradients_of_branching_blocks_match_numerical_ones(spec):
    _gradients_match(spec)


def test_an_output_feeding_two_nodes_gets_the_sum_of_their_gradients():
    # stem feeds conv1 and the add: its weights' gradient is the sum of both paths' (the
    # numerical check above); with the add's shortcut cut, it is the conv path's alone
    model = from_spec(RESIDUAL, dtype=np.float64, seed=1)
    stem = model.node_names.index("stem")
    assert [i for i, (_, inputs) in enumerate(model.nodes) if stem in inputs] == [1, 6]
    X, y = rng.standard_normal((3, 3, 6, 6)), np.array([0, 1, 2])
    both = model.loss(X, y)[1]["stem.W"]
    captured = {}

    def backward(i, layer, dout, cache, pass_):
        dx, grads = layer.backward(dout, cache) if pass_ != "params" else (None, layer.param_grads(dout, cache))
        if layer.kind == "add":
            captured["shortcut"] = dx[1]
        return dx, grads
    model.loss(X, y, backward_hook=backward)
    _, stem_cache = model.layers[stem].forward(X, model._local_params(stem), "train")
    shortcut_only = model.layers[stem].param_grads(captured["shortcut"], stem_cache)["W"]
    assert not np.allclose(shortcut_only, both)  # the conv path contributes too
    assert np.abs(both).max() > 0


def test_parameter_and_state_names_are_node_paths():
    model = from_spec("examples/resnet20.yaml", seed=0)
    assert list(model.params)[:4] == ["conv1.W", "bn1.gamma", "bn1.beta", "layer1.0.conv1.W"]
    assert "layer3.0.downsample.0.W" in model.params and "layer3.2.bn2.beta" in model.params
    assert "layer2.0.downsample.1.running_var" in model.get_state()
    assert model.weight_keys()[-1] == "fc.W"


def test_resnet20_has_the_papers_size_and_trains_on_64_samples():
    # He et al. 2016: 3 stages of 3 blocks, 16/32/64 channels, "0.27M" parameters
    model = from_spec("examples/resnet20.yaml", seed=0)
    assert sum(w.size for w in model.params.values()) == 272_474
    assert sum(1 for layer in model.layers if layer.kind == "conv") == 21  # 19 + 2 projections


def test_training_passes_over_edges():
    model = from_spec(CONCAT, seed=0)
    passes = dict(zip(model.node_names, training_passes(model.nodes)))
    assert passes["a"] == passes["b"] == "params"   # they take the input batch
    assert passes["pool"] == "none"                 # no parameters, nothing before it
    assert passes["cat"] == "full" and passes["b_relu"] == "full"


# --- specs: what is refused --------------------------------------------------------------------
def _graph(nodes, blocks=None):
    spec = {"input": [2, 4, 4], "nodes": nodes}
    if blocks is not None:
        spec["blocks"] = blocks
    return spec


BLOCK = {"params": {"filters": None}, "nodes": [{"conv": {"conv": {"filters": "$filters", "kernel": 3, "pad": 1}}},
                                                 {"add": {"add": None, "inputs": ["conv", "input"]}}]}
TAIL = [{"pool": "global_avgpool"}, {"fc": {"affine": {"units": 2}}}]


@pytest.mark.parametrize("nodes, blocks, pattern", [
    ([{"a": {"relu": None, "inputs": "b"}}, {"b": "relu"}] + TAIL, None, r"node 'a': unknown input 'b'.*cycle"),
    ([{"a": "relu"}, {"b": {"relu": None, "inputs": "input"}}] + TAIL, None, r"node 'a': its output is taken by no node"),
    ([{"x": {"conv": {"filters": 3, "kernel": 3, "pad": 1}}}, {"add": {"add": None, "inputs": ["x", "input"]}}] + TAIL,
     None, r"node 'add'.*\(1, 3, 4, 4\) and \(1, 2, 4, 4\) differ"),
    ([{"s": {"block": "res", "filters": 3}}] + TAIL, {"res": BLOCK},
     r"node 's\.add' in block 'res'.*\(1, 3, 4, 4\) and \(1, 2, 4, 4\) differ"),
    ([{"s": {"block": "nope"}}] + TAIL, {"res": BLOCK}, r"unknown block 'nope'; expected one of res"),
    ([{"s": {"block": "res", "filter": 2}}] + TAIL, {"res": BLOCK}, r"block 'res' has no parameter 'filter'"),
    ([{"s": {"block": "res"}}] + TAIL, {"res": BLOCK}, r"block 'res' needs parameter 'filters'"),
    ([{"s": {"block": "res", "filters": 2, "repeat": 0}}] + TAIL, {"res": BLOCK}, r"'repeat' must be an integer >= 1"),
    ([{"a": "relu"}, {"a": "relu"}] + TAIL, None, r"node 'a': the name is used twice"),
    ([{"a": {"conv": {"kernel": 3}}}] + TAIL, None, r"node 'a' \(conv\): missing required field 'filters'"),
    ([{"s": {"block": "res", "filters": 2}}] + TAIL,
     {"res": {"params": {"filters": None}, "nodes": [{"conv": {"conv": {"filters": "$width", "kernel": 1}}}]}},
     r"block 'res': \$width names no parameter of the block"),
])
def test_broken_graph_specs_are_refused_naming_the_node_and_block(nodes, blocks, pattern):
    with pytest.raises(SpecError, match=pattern):
        from_spec(_graph(nodes, blocks))


def test_a_block_repeated_chains_its_copies():
    model = from_spec(_graph([{"s": {"block": "res", "filters": 2, "repeat": 3}}] + TAIL, {"res": BLOCK}))
    names = model.node_names
    assert names[:6] == ["s.0.conv", "s.0.add", "s.1.conv", "s.1.add", "s.2.conv", "s.2.add"]
    assert model.nodes[names.index("s.1.add")][1] == (names.index("s.1.conv"), names.index("s.0.add"))
    assert model.nodes[0][1] == (MODEL_INPUT,)


# --- the same network in PyTorch, checkpoints, the profiler -------------------------------------------
def _matches_its_pytorch_twin(model, X, y):
    """The same loss and every parameter's gradient as ``to_torch(model)``, in float64."""
    torch = pytest.importorskip("torch")
    from tallynet.torch_bridge import to_torch

    loss, grads = model.loss(X, y)
    net = to_torch(model).train()
    ref = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    ours = [grads[model.param_keys[i][local]] for i, layer in enumerate(model.layers) for local in layer.param_names]
    for g, p in zip(ours, net.parameters(), strict=True):
        ref_g = p.grad.numpy()
        np.testing.assert_allclose(g, ref_g if ref_g.shape == g.shape else ref_g.T, rtol=1e-8, atol=1e-11)


def test_resnet20_matches_its_pytorch_twin():
    _matches_its_pytorch_twin(from_spec("examples/resnet20.yaml", dtype=np.float64, seed=0),
                              rng.standard_normal((2, 3, 32, 32)), rng.integers(10, size=2))


def test_a_graph_model_trains_saves_and_resumes_exactly(tmp_path):
    data = {"X_train": rng.standard_normal((40, 3, 6, 6)), "y_train": rng.integers(3, size=40),
            "X_val": rng.standard_normal((10, 3, 6, 6)), "y_val": rng.integers(3, size=10)}

    def solver(**kwargs):
        return Solver(from_spec(RESIDUAL, seed=0), data, update_rule="adam", batch_size=8, num_epochs=2,
                      verbose=False, seed=0, **kwargs)
    whole = solver()
    whole.train()
    first = solver(checkpoint_name=str(tmp_path / "run"))
    first.num_epochs = 1
    first.train()
    resumed = solver(resume_from=str(tmp_path / "run_last.npz"))
    resumed.train()
    for key, w in whole.model.params.items():
        assert np.array_equal(resumed.model.params[key], w), key


def test_profile_of_a_graph_counts_what_it_predicts():
    # batch 256: a peak of a few MB (at batch 64 it is 0.9 MB, where NumPy's own buffers, about
    # 0.14 MB here, are a large part of it)
    p = profile(RESIDUAL, batch=256, steps=1, gemm_peak=1.0)
    assert not p.unknown and not p.mismatches()
    t = p.totals()
    assert abs(t["predicted_peak_bytes"] - t["measured_peak_bytes"]) <= 0.1 * t["measured_peak_bytes"]


def test_summary_of_a_graph_shows_each_nodes_inputs():
    s = summary(RESIDUAL, batch=2)
    add = next(l for l in s.layers if l.type == "add")
    assert s.is_graph and s.input_names(add) == ["bn2", "stem"]
    assert "| add ← bn2, stem | (2, 4, 6, 6) + (2, 4, 6, 6) |" in s.to_markdown()
    assert isinstance(from_spec(RESIDUAL), Graph)


def test_input_overrides_the_specs_sample_shape_on_every_command(capsys, tmp_path):
    import json

    from tallynet.cli import main

    assert main(["summary", "examples/resnet20.yaml", "--input", "3", "64", "48", "--batch", "2",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_shape"] == [2, 3, 64, 48] and data["layers"][-2]["input_shape"] == [2, 64, 16, 12]
    assert main(["walkthrough", "seed-cnn", "--input", "3", "16", "16", "-o", str(tmp_path / "w.md")]) == 0
    assert "(\\textcolor{magenta}{32}, \\textcolor{blue}{3}, \\textcolor{orange}{16}" in (tmp_path / "w.md").read_text()
    assert main(["gradcheck", "lenet5", "--input", "1", "28", "28", "--checks", "2"]) in (0, 1)
    assert "worst relative error" in capsys.readouterr().out
    assert main(["summary", "seed-cnn", "--input", "3", "2", "2"]) == 2
    assert "layer 7 (maxpool) with input shape (1, 64, 1, 1)" in capsys.readouterr().err


def test_walkthrough_of_a_graph_groups_its_block_uses_and_states_the_merge_rules():
    import re

    from tallynet.cost.summary import blocks
    from tallynet.cost.walkthrough import walkthrough

    s = summary("examples/resnet20.yaml", batch=2)
    groups = blocks(s.layers)
    assert [g[0].name for g in groups[:5]] == ["conv1", "bn1", "relu", "layer1.0.conv1", "layer1.1.conv1"]
    assert [l.name for l in groups[3]][-2:] == ["layer1.0.add", "layer1.0.relu"]
    projection = next(g for g in groups if g[0].name == "layer2.0.conv1")  # its shortcut in the same block
    assert [l.name for l in projection][-4:] == ["layer2.0.downsample.0", "layer2.0.downsample.1", "layer2.0.add",
                                                 "layer2.0.relu"]
    doc = walkthrough("examples/resnet20.yaml", batch=2)
    assert len(re.findall(r"^## Block \d+: layer\d\.\d\.conv1", doc, flags=re.M)) == 9
    assert "### Merge nodes" in doc and "- **Add** (Addition (residual connection)): `walkthrough`" in doc
    assert "$(\\textcolor{magenta}{2}, \\textcolor{blue}{16}" in doc  # a merge's two input shapes, coloured


DEPTHWISE_SEPARABLE = {"name": "dw-separable", "input": [4, 6, 6], "nodes": [
    {"dw": {"conv": {"filters": 4, "kernel": 3, "pad": 1, "groups": 4, "bias": False}}}, {"dw_bn": "batchnorm"},
    {"dw_relu": "relu6"}, {"pw": {"conv": {"filters": 6, "kernel": 1, "bias": False}}}, {"pw_bn": "batchnorm"},
    {"act": "silu"}, {"pool": "global_avgpool"}, {"fc": {"affine": {"units": 3}}}]}

UNET = {"name": "tiny-unet", "input": [2, 8, 8], "nodes": [
    {"enc": {"conv": {"filters": 4, "kernel": 3, "pad": 1}}}, {"enc_relu": "relu"},
    {"down": {"maxpool": {"kernel": 2}}},
    {"mid": {"conv": {"filters": 6, "kernel": 3, "pad": 1}}}, {"mid_relu": "relu"},
    {"up": {"conv_transpose": {"filters": 4, "kernel": 2, "stride": 2}}},
    {"skip": {"concat": None, "inputs": ["up", "enc_relu"]}},
    {"dec": {"conv": {"filters": 3, "kernel": 3, "pad": 1}}},
    {"up2": {"upsample": {"scale": 2}}}, {"pool": {"avgpool": {"kernel": 2}}},
    {"flat": "flatten"}, {"fc": {"affine": {"units": 3}}}]}


@pytest.mark.parametrize("spec", [DEPTHWISE_SEPARABLE, UNET], ids=["depthwise-separable", "unet"])
def test_gradients_of_depthwise_separable_and_unet_blocks_match_numerical_ones(spec):
    _gradients_match(spec)


def test_unet_matches_its_pytorch_twin():
    _matches_its_pytorch_twin(from_spec(UNET, dtype=np.float64, seed=3), rng.standard_normal((2, 2, 8, 8)),
                              np.array([0, 2]))
