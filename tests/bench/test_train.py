"""The training benchmark's peak estimate (the timing itself is a script, not a test)."""

import pytest

from deepvis.bench.train import peak_gflops

CPUINFO = "processor\t: 0\ncpu MHz\t\t: 2000.000\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n"


def test_peak_counts_avx512_and_doubles_for_bf16(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert peak_gflops("float32", CPUINFO) == pytest.approx(2 * 2.0 * 64)
    assert peak_gflops("mixed_bfloat16", CPUINFO) == pytest.approx(2 * 2.0 * 128)
    no_bf16 = CPUINFO.replace(" avx512_bf16", "")
    assert peak_gflops("mixed_bfloat16", no_bf16) == pytest.approx(2 * 2.0 * 64)
    assert peak_gflops("float32", CPUINFO.replace(" avx512f", "")) == pytest.approx(2 * 2.0 * 32)
    assert peak_gflops("float32", "") is None
