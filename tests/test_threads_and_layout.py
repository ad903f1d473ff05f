"""The speed machinery: work split over threads gives bitwise the serial result, every 4-D
activation and gradient in a model is channel-major, and malloc keeps freed memory."""

import multiprocessing
import os
import subprocess
import sys

import numpy as np
import pytest

import tallynet
from conftest import to_channel_major
from tallynet.layers import _threads, conv_bands
from tallynet.layers.activations import relu_backward, relu_forward
from tallynet.layers.conv import conv_backward_fast, conv_forward_fast
from tallynet.layers.im2col import channel_major, col2im, im2col
from tallynet.layers.batchnorm import spatial_batchnorm_backward, spatial_batchnorm_forward
from tallynet.layers.pooling import (avg_pool_backward, avg_pool_forward, global_avg_pool_backward,
                                     max_pool_backward_fast, max_pool_forward_fast)
from tallynet.models import preset
from tallynet.profile.counter import Counter, counting


@pytest.fixture
def threads(monkeypatch):
    """Split everything, however small, over ``n`` threads; restore the setting afterwards."""
    before = tallynet.get_num_threads()
    monkeypatch.setattr(_threads, "MIN_ELEMENTS", 0)

    def use(n):
        tallynet.set_num_threads(n)
    yield use
    tallynet.set_num_threads(before)


def is_channel_major(a):
    """Stored as (C, H, W, N) with the samples contiguous (a padded buffer's interior counts)."""
    strides = a.transpose(1, 2, 3, 0).strides
    return a.ndim == 4 and strides[-1] == a.itemsize and list(strides) == sorted(strides, reverse=True)


# --- split ------------------------------------------------------------------------------
def test_split_covers_the_range_once_in_consecutive_parts(threads):
    threads(3)
    seen = []
    _threads.split(lambda s: seen.append((s.start, s.stop)), 10, np.zeros(10))
    assert sorted(seen) == [(0, 3), (3, 6), (6, 10)]


def test_split_runs_once_on_the_caller_for_small_work_one_thread_or_counting_arrays(threads):
    for n, arrays in ((1, (np.zeros(10),)), (3, (counting(np.zeros(10)),))):
        threads(n)
        seen = []
        _threads.split(lambda s: seen.append(s), 10, *arrays)
        assert seen == [slice(0, 10)]
    tallynet.set_num_threads(2)
    _threads.MIN_ELEMENTS = 100
    seen = []
    _threads.split(lambda s: seen.append(s), 10, np.zeros(99))
    assert seen == [slice(0, 10)]


def test_an_error_in_any_part_reaches_the_caller_after_every_part_finished(threads):
    threads(2)
    done = []

    def part(s):
        if s.start:
            raise ValueError("second part")
        done.append(s)
    with pytest.raises(ValueError, match="second part"):
        _threads.split(part, 4, np.zeros(4))
    assert done == [slice(0, 2)]


def test_the_number_of_threads_is_checked():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads must be an integer >= 1"):
            tallynet.set_num_threads(bad)


def test_the_environment_sets_the_number_of_threads(monkeypatch):
    monkeypatch.setenv("TALLYNET_NUM_THREADS", "3")
    assert _threads._default_threads() == 3
    monkeypatch.setenv("TALLYNET_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="TALLYNET_NUM_THREADS must be a positive integer, got 'many'"):
        _threads._default_threads()


def _relu_sum_in_child(queue):
    x = np.arange(-8.0, 8.0).reshape(4, 4)
    queue.put(float(relu_forward(x)[0].sum()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_its_own_worker_threads(threads):
    threads(2)
    relu_forward(np.ones((4, 4)))  # the parent's pool exists before the fork
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_relu_sum_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == sum(range(8))


# --- kernels give bitwise the same results on 1, 2 and 3 threads ----------------------------
def _kernel_results(x, dout_conv, w, b):
    """Forward and backward of every split kernel on a channel-major batch."""
    results = {}
    out, cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    results["conv"] = (out, *conv_backward_fast(dout_conv, cache))
    gamma, beta = np.linspace(0.5, 1.5, 4), np.linspace(-1, 1, 4)
    bn_param = {"mode": "train"}
    out, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    results["batchnorm"] = (out, *spatial_batchnorm_backward(dout_conv[:, :4], cache))
    bn_param["mode"] = "test"
    results["batchnorm test"] = (spatial_batchnorm_forward(x, gamma, beta, bn_param)[0],)
    out, cache = relu_forward(x)
    results["relu"] = (out, relu_backward(dout_conv[:, :4], cache))
    out, cache = max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    results["maxpool"] = (out, max_pool_backward_fast(out * 3, cache))
    cols = im2col(x, 3, 2, 2, 1)
    results["im2col"] = (cols, col2im(cols, x.shape, 3, 2, 2, 1))
    return results


def test_split_kernels_give_the_serial_results(threads):
    # Bitwise, except batchnorm's einsum sums, whose order of additions NumPy picks from
    # the shape of each thread's part: equal to rounding there. The same number of
    # threads always gives bitwise the same result.
    rng = np.random.default_rng(0)
    x = channel_major((6, 4, 8, 6), np.float64)
    x[...] = rng.standard_normal(x.shape)
    dout = rng.standard_normal((6, 5, 8, 6))
    w, b = rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)
    threads(1)
    serial = _kernel_results(x, dout, w, b)
    for n in (2, 3):
        threads(n)
        results = _kernel_results(x, dout, w, b)
        for name, arrays in results.items():
            for got, want in zip(arrays, serial[name]):
                if name == "batchnorm":
                    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"{name}, {n} threads")
                else:
                    assert np.array_equal(got, want), (name, n)
        for name, arrays in _kernel_results(x, dout, w, b).items():
            assert all(np.array_equal(u, v) for u, v in zip(arrays, results[name])), (name, n)


def test_each_part_of_a_split_product_runs_on_one_blas_thread_and_the_setting_comes_back():
    from tallynet import _openblas
    setter = _openblas._thread_count_setter()
    if setter is None:
        pytest.skip("this BLAS has no per-thread thread count (OpenBLAS 0.3.27 or later has)")
    before = setter(3)  # set, reading what it was
    inside = []
    _openblas.run_on_one_blas_thread(lambda: inside.append(setter(1)))
    assert inside == [1] and setter(before) == 3


@pytest.mark.parametrize("last", [0, 1], ids=["the caller's part ends last", "the worker's part ends last"])
def test_a_split_product_gives_back_the_blas_setting_whichever_part_ends_last(threads, last):
    # NumPy's OpenBLAS applies openblas_set_num_threads_local to every thread: each part putting
    # back the value it found, the part that ends last could leave BLAS on one thread
    import threading

    from tallynet import _openblas
    setter = _openblas._thread_count_setter()
    if setter is None:
        pytest.skip("this BLAS has no per-thread thread count (OpenBLAS 0.3.27 or later has)")
    threads(2)
    before = setter(2)
    done, seen = threading.Event(), []

    def part(s):
        seen.append(setter(1))  # the count this part runs with (set again to 1)
        if s.start == last:
            assert done.wait(10)
        else:
            done.set()
    _threads.split_products(part, 2, 1, np.zeros(1))
    assert seen == [1, 1] and setter(before) == 2


def test_without_a_per_thread_blas_setting_the_bands_run_on_the_calling_thread(threads, monkeypatch):
    # where BLAS cannot be limited per thread (another BLAS), the products are not split: one part
    # on the calling thread, BLAS with its own threads; the results are those of the split run
    rng = np.random.default_rng(0)
    x = channel_major((4, 16, 6, 6), np.float64)
    x[...] = rng.standard_normal(x.shape)
    w, dout = rng.standard_normal((8, 16, 3, 3)), rng.standard_normal((4, 8, 6, 6))
    threads(2)
    monkeypatch.setattr(conv_bands, "MIN_BAND_COLUMNS", 0)  # by bands at this small size
    out, cache = conv_forward_fast(x, w, None, {"stride": 1, "pad": 1})
    assert cache[4].ndim == 4  # the padded input: it ran by bands
    split_run = (out, *conv_backward_fast(dout, cache)[:2])
    monkeypatch.setattr(_threads, "can_run_one_thread_here", lambda: False)
    monkeypatch.setattr(_threads, "run_on_one_blas_thread", lambda *args: pytest.fail("a part left the caller"))
    out, cache = conv_forward_fast(x, w, None, {"stride": 1, "pad": 1})
    for got, want in zip((out, *conv_backward_fast(dout, cache)[:2]), split_run):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_counting_a_split_kernel_counts_the_whole_operation(threads):
    threads(2)
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8))
    with Counter() as c:
        relu_forward(counting(x))
    assert c.flops.cmp == x.size


# --- memory layout ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["seed-cnn", "lenet5"])  # global average pooling; affine on images
def test_every_4d_activation_and_gradient_is_channel_major(name):
    model = preset(name, seed=0)
    X = np.random.default_rng(0).standard_normal((3,) + model.input_shape).astype(np.float32)  # C order
    x, caches = X, []
    for layer, keys in zip(model.layers, model.param_keys):
        x, cache = layer.forward(x, {k: model.params[v] for k, v in keys.items()}, "train")
        caches.append(cache)
        assert x.ndim == 2 or is_channel_major(x), layer.name
    dout = np.ones_like(x)
    for layer, cache in zip(reversed(model.layers), reversed(caches)):
        dout, _ = layer.backward(dout, cache)
        assert dout.ndim == 2 or is_channel_major(dout), layer.name


def test_a_convolution_reads_a_channel_major_dout_without_copying_it():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 5))
    out, cache = conv_forward_fast(x, rng.standard_normal((4, 3, 3, 3)), None, {"stride": 1, "pad": 1})
    assert is_channel_major(out)
    # the output is a view of the GEMM result kept nowhere else: its base is that (F, H' W' N) array
    assert out.base is not None and out.base.shape == (4, 5 * 5 * 2)
    dx, _, _ = conv_backward_fast(out, cache)
    assert is_channel_major(dx)


@pytest.mark.parametrize("pool", [(2, 2, 2), (3, 3, 2), (2, 2, 1)], ids=["tiles", "overlapping", "stride-1"])
def test_pooling_and_global_pooling_make_channel_major_outputs_and_gradients(pool):
    x = channel_major((2, 3, 6, 6), np.float64)
    x[...] = np.random.default_rng(0).standard_normal(x.shape)
    param = dict(zip(("pool_height", "pool_width", "stride"), pool))
    for forward, backward in ((max_pool_forward_fast, max_pool_backward_fast), (avg_pool_forward, avg_pool_backward)):
        out, cache = forward(x, param)
        assert is_channel_major(out)
        assert is_channel_major(backward(np.ones_like(out), cache))
    assert is_channel_major(global_avg_pool_backward(np.ones((2, 3)), ((2, 3, 6, 6), np.float64)))


@pytest.mark.parametrize("layout", ["C order", "channel-major"])
def test_kernels_give_the_same_numbers_for_either_layout(layout):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 6))
    reference = x.copy()
    if layout == "channel-major":
        x = to_channel_major(x)
        assert is_channel_major(x)
    w = rng.standard_normal((4, 3, 3, 3))
    for kernel in (lambda a: conv_forward_fast(a, w, None, {"stride": 2, "pad": 1})[0],
                   lambda a: relu_forward(a)[0],
                   lambda a: max_pool_forward_fast(a, {"pool_height": 3, "pool_width": 3, "stride": 1})[0]):
        assert np.array_equal(kernel(x), kernel(reference))


# --- process settings: none on import, tune_process() on request ------------------------------
def test_importing_tallynet_changes_nothing_in_the_process():
    code = ("import os; before = dict(os.environ); import tallynet; "
            "print(dict(os.environ) == before, tallynet._allocator.active, tallynet._openblas.in_effect)")
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False", "False"]


def _allocator_active(env):
    code = ("import tallynet; import tallynet._allocator as a; before = a.active; tallynet.tune_process(); "
            "print(before, a.active)")
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"),
                    reason="the malloc settings exist on glibc only")
def test_tune_process_keeps_freed_memory_unless_the_environment_says_no():
    assert _allocator_active({}) == "False True"
    assert _allocator_active({"TALLYNET_KEEP_FREED_MEMORY": "0"}) == "False False"


# --- OpenBLAS's idle threads sleep ------------------------------------------------------------
_IDLE_CPU = """
import os, resource, sys, time
{imports}
import numpy as np
a = np.ones((512, 512), dtype=np.float32)
for _ in range(3):
    a @ a  # a product large enough for OpenBLAS to run it on its worker threads
before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
time.sleep(0.05)  # the main thread sleeps: any CPU time spent now is an idle thread spinning
after = resource.getrusage(resource.RUSAGE_SELF)
busy = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
import tallynet
print(os.environ.get("OPENBLAS_THREAD_TIMEOUT"), tallynet._openblas.in_effect, busy / (time.perf_counter() - wall))
"""
TUNED = "import tallynet; tallynet.tune_process()"


def _idle_cpu(imports, env=None):
    """(OPENBLAS_THREAD_TIMEOUT, in_effect, CPU cores busy while idle) of a fresh process."""
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", _IDLE_CPU.format(imports=imports)], env={**environment, **(env or {})},
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0], out[1], float(out[2])


def _openblas_spins_by_default():
    pytest.importorskip("threadpoolctl")
    from threadpoolctl import threadpool_info
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    if not blas or blas[0]["internal_api"] != "openblas" or blas[0]["num_threads"] < 2:
        pytest.skip("needs NumPy on a multithreaded OpenBLAS")
    spinning = _idle_cpu("")[2]  # untuned: OpenBLAS's default, about 0.1 s of busy-waiting
    if spinning < 0.5:
        pytest.skip(f"this OpenBLAS does not busy-wait by default (idle CPU {spinning:.2f} of a core)")


def test_tune_process_sets_the_openblas_thread_timeout_unless_the_user_did():
    assert _idle_cpu("import tallynet")[:2] == ("None", "False")
    assert _idle_cpu(TUNED)[:2] == ("4", "True")
    assert _idle_cpu(TUNED, env={"OPENBLAS_THREAD_TIMEOUT": "12"})[:2] == ("12", "True")


def test_openblas_idle_threads_do_not_spin_after_a_product_once_tuned():
    _openblas_spins_by_default()
    timeout, in_effect, idle = _idle_cpu(TUNED)
    assert (timeout, in_effect) == ("4", "True")
    assert idle < 0.2


def test_restarting_openblas_threads_keeps_products_right_and_threaded():
    _openblas_spins_by_default()
    code = ("import numpy as np; from threadpoolctl import threadpool_info; "
            "a = np.random.default_rng(0).standard_normal((300, 300)); before = a @ a; "
            "import tallynet; tallynet.tune_process(); after = a @ a; "
            "print(np.array_equal(before, after), [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'][0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "True" and int(out[1]) >= 2
