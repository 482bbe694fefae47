"""The parts of benchmarks/bench_gpu.py that a CPU can check cheaply.

A full `--quick` run (both backends, seven models each) took two
minutes on a loaded 2-core machine, too long for the test suite; these
tests cover its pieces.
"""

import keras
import numpy as np
import pytest

from tests.benchmark_modules import load_benchmark

bench_gpu = load_benchmark("bench_gpu")


@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="torch runs the train step eagerly; there is no traced step to "
    "list the ops of (the benchmark runs TensorFlow and JAX)",
)
def test_traced_step_lists_the_ops_of_forward_and_gradient():
    layer = keras.layers.LSTM(4)
    x = np.ones((2, 3, 5), "float32")
    layer(x)
    names = bench_gpu.traced_step_ops(layer, x)
    if keras.backend.backend() == "tensorflow":
        # MatMul in the forward loop, a sigmoid's gradient in the backward.
        assert {"MatMul", "SigmoidGrad", "While"} <= names
    else:
        assert {"dot_general", "while"} <= names


def test_cudnn_ops_are_recognized_by_name():
    assert bench_gpu.uses_cudnn({"MatMul", "CudnnRNNV3"})
    assert bench_gpu.uses_cudnn({"cudnn_rnn"})
    assert not bench_gpu.uses_cudnn({"MatMul", "custom_call"})


def test_quick_settings_reach_the_workers():
    args = bench_gpu.parse_args(["--quick", "--backends", "jax"])
    assert args.rounds == 1 and args.units == 16 and args.backends == ["jax"]
    worker = bench_gpu.parse_args(bench_gpu.worker_arguments(args))
    assert worker.worker
    for name in bench_gpu.QUICK:
        assert getattr(worker, name) == getattr(args, name)


def _result(backend, ratio):
    names = [
        bench_gpu.PLAIN,
        bench_gpu.KERAS_DROPOUT,
        "WeightDropLSTM",
        "VariationalLSTM",
        "ZoneoutLSTM",
        bench_gpu.DROPOUT,
        "ScheduledDropout",
    ]
    row = {"ratio": ratio, "paired_ratio_median": 1.0, "min_ratio": 0.5}
    return {
        "backend": backend,
        "device": "1 x H200",
        "median_epoch_s": {name: 0.25 for name in names},
        "jit_compile": {name: backend == "jax" for name in names},
        "cudnn_ops": {
            name: ["CudnnRNNV3"] if name == bench_gpu.PLAIN else []
            for name in names[:5]
        },
        "comparisons": [dict(row) for _ in bench_gpu.COMPARISONS],
    }


def test_markdown_tables_have_a_column_per_backend():
    args = bench_gpu.parse_args([])
    lines = bench_gpu.markdown_tables(
        [_result("tensorflow", 1.5), _result("jax", 0.75)], args
    )
    assert lines[0].startswith("Devices: tensorflow: 1 x H200; jax: 1 x H200")
    ratios = lines[2 : 4 + len(bench_gpu.COMPARISONS)]
    assert ratios[0].count("|") == 4
    assert ratios[2] == (
        "| `WeightDropLSTM` / `keras LSTM` | 1.50 (1.00, 0.50) | "
        "0.75 (1.00, 0.50) |"
    )
    assert (
        "| `keras LSTM` | 0.2500, CudnnRNNV3, no | 0.2500, CudnnRNNV3, yes |"
        in lines
    )
    assert "| `ZoneoutLSTM` | 0.2500, no, no | 0.2500, no, yes |" in lines
    assert "| `keras Dropout` | 0.2500, -, no | 0.2500, -, yes |" in lines
