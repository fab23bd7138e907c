"""The CPU in words, as the technical report and the README name it."""

from deepvis.config import cpu_description


def test_names_the_model_and_the_widest_vector_extension():
    intel = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\nflags\t\t: fpu sse avx2 avx512f\n"
    amd = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n"
    assert cpu_description(intel).startswith("Intel(R) Xeon(R), AVX-512, ")
    assert cpu_description(amd).startswith("AMD EPYC, AVX2, ")
    assert cpu_description("").startswith("unknown CPU, ")
    assert cpu_description(amd).endswith(" cores")
