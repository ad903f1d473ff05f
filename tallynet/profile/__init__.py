"""Proof by execution: count what the kernels really do, measure time and memory (``tallynet profile``)."""

from .counter import Counter, CountingArray, CountingGenerator, counting, plain
from .profiler import LayerProfile, Profile, count_layer, gemm_peak_gflops, measure_layer, profile

__all__ = ["profile", "Profile", "LayerProfile", "count_layer", "measure_layer", "gemm_peak_gflops", "Counter", "CountingArray",
           "CountingGenerator", "counting", "plain"]
