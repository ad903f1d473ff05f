"""Bad shapes and values reach a clear error (the argument and what was expected), never a NaN
or a deep NumPy error; bad command lines and files reach a message, never a traceback."""

import os
import re

import numpy as np
import pytest

from tallynet.cli import main
from tallynet.cost import summary
from tallynet.layers import (Conv2d, batchnorm_backward_alt, batchnorm_forward, conv_backward_fast,
                             conv_backward_naive, conv_forward_fast, dropout_backward, dropout_forward,
                             layernorm_forward, max_pool_backward_fast, softmax_loss,
                             spatial_batchnorm_forward, spatial_layernorm_forward, svm_loss)
from tallynet.layers.pooling import avg_pool_backward, global_avg_pool_backward
from tallynet.models import Sequential, from_spec
from tallynet.layers import Affine, ReLU

RNG = np.random.default_rng(0)
X2 = RNG.standard_normal((4, 3)).astype(np.float32)
X4 = RNG.standard_normal((2, 3, 4, 4)).astype(np.float32)
G3, B3 = np.ones(3, np.float32), np.zeros(3, np.float32)
W = RNG.standard_normal((2, 3, 3, 3)).astype(np.float32)


def raises(kind, *patterns):
    """pytest.raises whose message must match every pattern (the argument, what was expected)."""
    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(kind)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            suppressed = self.ctx.__exit__(*exc)
            for pattern in patterns:
                assert re.search(pattern, str(self.info.value)), (pattern, str(self.info.value))
            return suppressed
    return Check()


# --- empty batches: NaN statistics and losses --------------------------------------
@pytest.mark.parametrize("call", [
    lambda: batchnorm_forward(X2[:0], G3, B3, {"mode": "train"}),
    lambda: spatial_batchnorm_forward(X4[:0], G3, B3, {"mode": "train"}),
    lambda: layernorm_forward(X2[:0], G3, B3),
    lambda: spatial_layernorm_forward(X4[:0], G3, B3),
    lambda: softmax_loss(X2[:0], np.zeros(0, np.int64)),
    lambda: svm_loss(X2[:0], np.zeros(0, np.int64)),
], ids=["batchnorm", "spatial-batchnorm", "layernorm", "spatial-layernorm", "softmax", "svm"])
def test_an_empty_batch_is_refused(call):
    with raises(ValueError, r"x has shape \(0, ", r"at least one sample"):
        call()


def test_an_empty_batch_leaves_the_running_statistics_alone():
    bn_param = {"mode": "train", "running_mean": np.zeros(3, np.float32), "running_var": np.ones(3, np.float32)}
    with pytest.raises(ValueError):
        batchnorm_forward(X2[:0], G3, B3, bn_param)
    assert np.isfinite(bn_param["running_mean"]).all() and np.isfinite(bn_param["running_var"]).all()


def test_test_mode_batchnorm_still_takes_an_empty_batch():
    out, _ = batchnorm_forward(X2[:0], G3, B3, {"mode": "test"})
    assert out.shape == (0, 3)


# --- parameter dicts that are not dicts ----------------------------------------------
@pytest.mark.parametrize("value", [None, "train", 0.5])
def test_bn_param_must_be_a_dict(value):
    with raises(TypeError, r"bn_param must be a dict"):
        batchnorm_forward(X2, G3, B3, value)


@pytest.mark.parametrize("value", [None, "train"])
def test_dropout_param_must_be_a_dict(value):
    with raises(TypeError, r"dropout_param must be a dict"):
        dropout_forward(X2, value)


def test_ln_param_must_be_a_dict_or_none():
    with raises(TypeError, r"ln_param must be a dict or None, got str"):
        layernorm_forward(X2, G3, B3, "eps")
    assert layernorm_forward(X2, G3, B3, None)[0].shape == X2.shape


# --- caches of the wrong length --------------------------------------------------------
@pytest.mark.parametrize("backward, dout, producer, length", [
    (conv_backward_fast, np.zeros((2, 2, 2, 2), np.float32), "conv_forward_fast", 5),
    (conv_backward_naive, np.zeros((2, 2, 2, 2), np.float32), "conv_forward_naive", 4),
    (max_pool_backward_fast, np.zeros((2, 3, 2, 2), np.float32), "max_pool_forward_fast", 5),
    (avg_pool_backward, np.zeros((2, 3, 2, 2), np.float32), "avg_pool_forward", 4),
    (global_avg_pool_backward, np.zeros((2, 3), np.float32), "global_avg_pool_forward", 2),
    (batchnorm_backward_alt, X2, "a normalization forward pass", 6),
    (dropout_backward, X2, "dropout_forward", 2),
], ids=["conv-fast", "conv-naive", "maxpool", "avgpool", "gap", "batchnorm", "dropout"])
def test_a_cache_of_the_wrong_length_is_named(backward, dout, producer, length):
    with raises(ValueError, rf"cache must be the {length}-tuple that {producer} returns, got a tuple of 3"):
        backward(dout, (1, 2, 3))


def test_a_cache_that_is_not_a_tuple_is_named():
    with raises(ValueError, r"cache must be the 5-tuple that conv_forward_fast returns, got list"):
        conv_backward_fast(np.zeros((2, 2, 2, 2), np.float32), [1, 2, 3, 4, 5])


# --- convolutions: no filters, absurd pads ------------------------------------------------
def test_a_convolution_without_filters_is_refused():
    with raises(ValueError, r"w has shape \(0, 3, 3, 3\)", r"at least one filter"):
        conv_forward_fast(X4, W[:0], None, {"stride": 1, "pad": 1})
    with raises(ValueError, r"filters must be >= 1, got 0"):
        Conv2d(0, 3)


@pytest.mark.parametrize("make", [
    lambda: conv_forward_fast(X4, W, None, {"stride": 1, "pad": 10 ** 6}),
    lambda: Conv2d(4, 3, pad=10 ** 6),
    lambda: from_spec({"input": [3, 8, 8], "layers": [{"conv": {"filters": 4, "kernel": 3, "pad": 10 ** 6}},
                                                     {"affine": {"units": 2}}]}),
], ids=["kernel", "layer", "spec"])
def test_a_pad_wider_than_the_kernel_is_refused(make):
    with raises(ValueError, r"pad must be at most the kernel size - 1 = 2 for a 3x3 kernel, got 1000000"):
        make()


def test_a_pad_of_kernel_minus_one_still_works():
    out, _ = conv_forward_fast(X4, W, None, {"stride": 1, "pad": 2})
    assert out.shape == (2, 2, 6, 6)


# --- float16: refused where it would be silently wrong ------------------------------------
def test_float16_batchnorm_is_refused_saying_why():
    x = (1000 + RNG.standard_normal((8, 3))).astype(np.float16)
    with raises(TypeError, r"x has dtype float16", r"precision", r"expected float32 or float64"):
        batchnorm_forward(x, G3.astype(np.float16), B3.astype(np.float16), {"mode": "train"})


def test_the_cost_model_still_takes_float16():
    s = summary("seed-cnn", dtype="float16", batch=2)
    assert s.dtype.name == "float16" and s.totals()["param_bytes"] == 2 * s.totals()["params"]


def test_float16_training_is_refused_by_the_solver():
    from tallynet.solver import Solver

    model = Sequential([Affine(3)], (4,), dtype=np.float16)
    data = {"X_train": np.zeros((4, 4), np.float16), "y_train": np.zeros(4, np.int64),
            "X_val": np.zeros((2, 4), np.float16), "y_val": np.zeros(2, np.int64)}
    with raises(TypeError, r"parameter 'W1' has dtype float16", r"eps \(1e-8\) underflow", r"float32"):
        Solver(model, data, update_rule="adam")


def test_float16_training_is_refused_by_the_command(tmp_path, capsys):
    spec = tmp_path / "half.yaml"
    spec.write_text("input: [1, 8, 8]\ndtype: float16\nlayers:\n  - affine: {units: 10}\n")
    assert main(["train", str(spec), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "float16 training is not supported" in err and "summary --dtype float16" in err
    assert not (tmp_path / "run").exists()  # refused before the run directory was made


# --- sample shapes: the spec's input exactly -----------------------------------------------
def test_a_batch_in_the_wrong_layout_is_not_reshaped():
    model = Sequential([Conv2d(2, 3, pad=1), ReLU(), Affine(10)], (1, 8, 8), seed=0)
    with raises(ValueError, r"X has shape \(2, 8, 8, 1\), expected \(N, 1, 8, 8\)"):
        model.loss(np.zeros((2, 8, 8, 1), np.float32))


def test_features_still_take_a_flattened_image():
    model = Sequential([Affine(10)], (64,), seed=0)
    assert model.loss(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 10)


def test_train_refuses_a_spec_whose_input_is_another_layout(tmp_path, capsys):
    spec = tmp_path / "nhwc.yaml"
    spec.write_text("input: [8, 8, 1]\nlayers:\n  - conv: {filters: 2, kernel: 3, pad: 1}\n  - relu\n"
                    "  - affine: {units: 10}\n")
    assert main(["train", str(spec), "--out", str(tmp_path / "run")]) == 2
    assert re.search(r"samples have shape \(1, 8, 8\) but the spec's input is \(8, 8, 1\); expected input: "
                     r"\[1, 8, 8\]", capsys.readouterr().err)


def test_a_batch_larger_than_the_training_set_is_refused(tmp_path, capsys):
    spec = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "digits-fcnet.yaml")
    assert main(["train", spec, "--num-train", "40", "--batch", "64", "--out", str(tmp_path / "run")]) == 2
    assert "--batch 64 exceeds the 40 training samples; expected a batch of at most that many" \
        in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# --- summary's batch ----------------------------------------------------------------
@pytest.mark.parametrize("batch, kind, pattern", [(2.5, TypeError, r"batch must be an integer, got 2.5"),
                                                  (0, ValueError, r"batch must be >= 1, got 0"),
                                                  ("8", TypeError, r"batch must be an integer, got '8'")])
def test_summary_refuses_a_batch_that_is_not_a_count(batch, kind, pattern):
    with raises(kind, pattern):
        summary("seed-cnn", batch=batch)


# --- messages of the command line ---------------------------------------------------------
def test_a_non_utf8_spec_names_its_file(tmp_path, capsys):
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes("name: caf\xe9\ninput: [1, 8, 8]\n".encode("latin-1"))
    assert main(["summary", str(spec)]) == 2
    err = capsys.readouterr().err
    assert str(spec) in err and "is not UTF-8 text" in err


def test_a_directory_given_as_a_spec_is_called_a_directory(tmp_path, capsys):
    assert main(["summary", str(tmp_path)]) == 2
    assert f"spec {str(tmp_path)!r} is a directory; expected a YAML spec file" in capsys.readouterr().err


@pytest.mark.parametrize("argv, flag, expected", [
    (["train", "seed-cnn", "--seed", "-1"], "--seed", "must be an integer >= 0, got -1"),
    (["profile", "seed-cnn", "--seed", "-3"], "--seed", "must be an integer >= 0, got -3"),
    (["gradcheck", "seed-cnn", "--seed", "x"], "--seed", "must be an integer >= 0, got 'x'"),
    (["train", "seed-cnn", "--lr", "nan"], "--lr", "must be a finite number > 0, got nan"),
    (["train", "seed-cnn", "--lr", "-0.1"], "--lr", "must be a finite number > 0, got -0.1"),
    (["train", "seed-cnn", "--lr", "inf"], "--lr", "must be a finite number > 0, got inf"),
    (["train", "seed-cnn", "--lr", "fast"], "--lr", "must be a finite number > 0, got 'fast'"),
    (["train", "seed-cnn", "--lr-decay", "0"], "--lr-decay", "must be a finite number > 0, got 0"),
    (["train", "seed-cnn", "--batch", "2.5"], "--batch", "must be an integer >= 1, got '2.5'"),
    (["train", "seed-cnn", "--resume", "--overwrite"], "--overwrite", "not allowed with argument --resume"),
])
def test_a_bad_flag_names_the_flag(argv, flag, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and expected in err and "Traceback" not in err


@pytest.mark.parametrize("dtype", ["5", "[a]", "int8"])
def test_a_spec_dtype_is_one_of_the_float_dtypes(tmp_path, capsys, dtype):
    spec = tmp_path / "net.yaml"
    spec.write_text(f"input: [4]\ndtype: {dtype}\nlayers: [{{affine: {{units: 2}}}}]\n")
    assert main(["summary", str(spec)]) == 2
    assert "spec: field 'dtype' must be one of float16, float32, float64, got" in capsys.readouterr().err


def test_a_spec_that_is_neither_file_nor_preset_names_the_presets(capsys):
    assert main(["summary", "seed-cnnn"]) == 2
    err = capsys.readouterr().err
    assert "spec 'seed-cnnn' is neither a file nor a preset name; expected a YAML spec file or one of " in err
    assert "homework3-q1, lenet5, mobilenet_v2" in err and "seed-cnn, squeezenet1_0" in err


def test_an_unwritable_walkthrough_output_names_the_flag(tmp_path, capsys):
    target = tmp_path / "missing-dir" / "w.md"
    assert main(["walkthrough", "lenet5", "-o", str(target)]) == 2
    assert f"-o {str(target)!r}: cannot write the walkthrough there (No such file or directory)" \
        in capsys.readouterr().err


def test_a_resume_into_another_network_is_refused_from_python_too(tmp_path):
    from tallynet.data import load_digits
    from tallynet.solver import Solver
    from tallynet.layers import Sigmoid

    digits = load_digits()
    data = {k: digits[k][:40] for k in ("X_train", "y_train", "X_val", "y_val")}
    relu = Sequential([Affine(8), ReLU(), Affine(10)], (1, 8, 8), seed=0)
    Solver(relu, data, num_epochs=1, batch_size=20, checkpoint_name=str(tmp_path / "c"), verbose=False).train()
    sigmoid = Sequential([Affine(8), Sigmoid(), Affine(10)], (1, 8, 8), seed=0)
    with raises(ValueError, r"model\.layers\[1\] is \{'relu': \{\}\} in the checkpoint but \{'sigmoid': \{\}\} now"):
        Solver(sigmoid, data, num_epochs=2, batch_size=20, resume_from=str(tmp_path / "c_last.npz"))


def _tiny_data():
    rng = np.random.default_rng(0)
    return {"X_train": rng.standard_normal((6, 4)), "y_train": np.zeros(6, np.int64),
            "X_val": rng.standard_normal((3, 4)), "y_val": np.zeros(3, np.int64)}


def test_non_finite_data_is_refused_before_training():
    from tallynet.solver import Solver

    data = _tiny_data()
    data["X_val"][2, 1] = np.nan
    with raises(ValueError, r"X_val holds NaN or infinite values \(the first at index \(2, 1\)\); expected finite"):
        Solver(Sequential([Affine(2)], (4,), dtype=np.float64), data)


def test_a_memory_error_anywhere_is_a_message(monkeypatch, capsys):
    import tallynet.cli as cli

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 7.45 GiB for an array with shape (2000000000,)")

    monkeypatch.setattr(cli, "from_spec", no_memory)
    assert main(["gradcheck", "seed-cnn", "--force"]) == 2
    err = capsys.readouterr().err
    assert "tallynet gradcheck: error: out of memory (Unable to allocate 7.45 GiB" in err and "--batch" in err
