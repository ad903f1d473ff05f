"""Specs: every example builds, presets equal their YAML twins, broken specs name what is wrong."""

import os

import numpy as np
import pytest
import yaml

from tallynet.models import PRESETS, FullyConnectedNet, SpecError, from_spec, load_spec, preset

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


def example(name):
    return os.path.join(EXAMPLES, name)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_example_yaml_equals_preset(name):
    spec = load_spec(example(f"{name}.yaml"))
    assert spec == PRESETS[name]


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".yaml")))
def test_every_example_builds_and_runs(name):
    spec = load_spec(example(name))
    if spec["input"] == [3, 224, 224]:  # an ImageNet network: its shapes (the zoo tests run it against torchvision)
        from tallynet.cost import summary
        assert summary(spec, batch=1).layers[-1].output_shape == (1, 1000)
        return
    model = from_spec(spec)
    X = np.random.default_rng(0).standard_normal((2,) + model.input_shape)
    assert model.loss(X).shape == (2, 10)


def test_seed_cnn_has_seed001_parameter_count():
    # Seed 001: 896 + 64 + 18,496 + 128 + 73,856 + 256 + 1,290 = 94,986 trainable parameters.
    model = preset("seed-cnn")
    assert sum(p.size for p in model.params.values()) == 94_986
    assert model.layer_shapes(batch=32)[-1] == (32, 10)
    assert model.layer_shapes(batch=32)[4] == (32, 32, 16, 16)


def test_fcnet_spec_builds_the_course_net():
    spec = {"model": "FullyConnectedNet", "input": [1, 8, 8], "hidden_dims": [20, 10], "normalization": "layernorm"}
    model = from_spec(spec)
    reference = FullyConnectedNet([20, 10], input_dim=64, normalization="layernorm")
    assert {k: v.shape for k, v in model.params.items()} == {k: v.shape for k, v in reference.params.items()}


def base_spec(*layers):
    return {"name": "t", "input": [3, 8, 8], "layers": list(layers)}


@pytest.mark.parametrize("spec, pattern", [
    (base_spec("relu", "convolution"), r"layer 1: unknown layer type 'convolution'"),
    (base_spec({"conv": {"kernel": 3}}), r"layer 0 \(conv\): missing required field 'filters'"),
    (base_spec({"conv": {"filters": 4, "kernel": 3, "padding": 1}}), r"layer 0 \(conv\): unknown field 'padding'"),
    (base_spec({"conv": {"filters": 4, "kernel": 0}}), r"layer 0 \(conv\): .*kernel"),
    (base_spec({"dropout": {"keep": 1.5}}), r"layer 0 \(dropout\): .*keep"),
    (base_spec("flatten", {"affine": {"units": 5}}, {"conv": {"filters": 2, "kernel": 3}}), r"layer 2 \(conv\)"),
    (base_spec({"maxpool": {"kernel": 9}}), r"layer 0 \(maxpool\).*larger than the padded input"),
    (base_spec({"conv": [4, 3]}), r"layer 0 \(conv\): fields must be a mapping"),
    ({"input": [3, 8, 8], "layers": []}, r"'layers' must be a non-empty list"),
    ({"layers": ["relu"]}, r"missing required field 'input'"),
    ({"input": [3, 8, 8], "layers": ["relu"], "optimiser": "adam"}, r"unknown field 'optimiser'"),
    ({"input": [3, 8, 8], "layers": ["relu"], "loss": "hinge"}, r"loss"),
    ({"input": [3, 8, 8], "layers": [{"conv": {"filters": 2, "kernel": 3}}]}, r"loss 'softmax' needs scores"),
    ({"input": [3, 8, 8], "layers": ["flatten", {"affine": {"units": 2}}], "batch": "abc"}, r"'batch' must be"),
    ({"input": [3, 8, 8], "layers": ["flatten", {"affine": {"units": 2}}], "reg": -1}, r"'reg' must be"),
    ({"input": [3, 8, 8], "layers": ["flatten", {"affine": {"units": 2}}], "seed": "x"}, r"'seed' must be"),
    ({"input": [3, 8, 8], "layers": ["flatten", {"affine": {"units": 2}}], "name": 5}, r"'name' must be"),
    ({"input": [True, 8, 8], "layers": ["flatten", {"affine": {"units": 2}}]}, r"'input' must be"),
    ({"input": [3, 8, 8], "layers": ["flatten", {"affine": {"units": 2}}], "weight_scale": -1}, r"weight_scale"),
    ({"model": "FullyConnectedNet", "input": [4], "hidden_dims": 12}, r"'hidden_dims' must be"),
])
def test_broken_specs_name_layer_and_field(spec, pattern):
    with pytest.raises(SpecError, match=pattern):
        from_spec(spec)


def test_broken_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("input: [3, 8, 8]\nlayers:\n  - conv: {filters: 4, kernel: 3\n  - relu\n")
    with pytest.raises(SpecError, match=r"bad\.yaml.*line \d+"):
        from_spec(str(path))


def test_missing_spec_file():
    with pytest.raises(SpecError, match="does not exist"):
        from_spec("no/such/spec.yaml")


def test_spec_round_trips_through_yaml(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(PRESETS["seed-cnn"]))
    a, b = from_spec(str(path), seed=3), preset("seed-cnn", seed=3)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
