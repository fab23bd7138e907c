import numpy as np
import pytest
from keras import layers

from deepvis.cae.config import CAEConfig
from deepvis.cae.model import (
    FusedBatchNorm,
    build_cae,
    check_symmetric,
    layer_shapes,
    spatial_sizes,
)
from deepvis.errors import DeepvisError


@pytest.mark.parametrize(
    "filters, kwargs",
    [
        ((32, 64, 128), {}),
        ((8, 16, 32), {"batch_norm": True}),
        ((4, 8, 8, 16), {"dropout": 0.1}),
        ((4, 8, 16), {"latent_dim": 3, "bottleneck_activation": "tanh"}),
    ],
)
def test_output_shape_equals_input(filters, kwargs):
    cae = build_cae(CAEConfig(filters=filters, **kwargs))
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    out = np.asarray(cae.autoencoder(x))
    assert out.shape == x.shape
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_bottleneck_is_two_dense_neurons():
    cae = build_cae(CAEConfig(filters=(8, 16, 32)))
    code = cae.encoder.get_layer("code")
    assert code.__class__.__name__ == "Dense" and code.units == 2
    assert cae.encoder.output.shape[1:] == (2,)
    assert cae.decoder.input.shape[1:] == (2,)
    # The flatten feeds the bottleneck directly, as the assignment asks.
    assert code.input.shape[1:] == cae.encoder.get_layer("enc_flatten").output.shape[1:]


def test_decoder_mirrors_encoder_widths_and_sizes():
    cae = build_cae(CAEConfig(filters=(8, 16, 32)))
    rows = layer_shapes(cae)
    enc = [s[-1] for part, n, s in rows if part == "encoder" and n.endswith("relu")]
    dec = [s[-1] for part, n, s in rows if part == "decoder" and n.endswith("relu")]
    assert enc == dec[::-1] == [8, 16, 32]
    # Conv -> Upsampling mirrors Conv -> Pooling: each decoder conv sees its encoder pooling's
    # output size, and each upsampling (+ crop) restores its encoder conv's size.
    shapes = {n: s[:2] for _, n, s in layer_shapes(cae)}
    assert [shapes[f"enc_pool{i}"] for i in (3, 2, 1)] == [
        shapes[f"dec_conv{i}"] for i in (1, 2, 3)
    ]
    assert [shapes[f"enc_conv{i}"] for i in (3, 2)] == [shapes["dec_crop1"], shapes["dec_up2"]]
    assert shapes["dec_up3"] == shapes["enc_conv1"] == (28, 28)


def test_shared_weights_between_autoencoder_and_halves():
    cae = build_cae(CAEConfig(filters=(4, 8, 16)))
    x = np.random.default_rng(1).random((2, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(
        cae.autoencoder(x), cae.decoder(cae.encoder(x)), rtol=1e-6, atol=1e-6
    )


def test_spatial_sizes_with_same_padding():
    assert spatial_sizes(28, 3) == [28, 14, 7, 4]
    assert spatial_sizes(28, 4) == [28, 14, 7, 4, 2]


@pytest.mark.parametrize(
    "enc, dec, match",
    [
        ((32, 64, 128), (32, 64, 128), "asymmetric"),
        ((32, 64, 128), (128, 64), "asymmetric"),
        ((32, 64), (64, 32), "at least 3"),
    ],
)
def test_symmetry_check_rejects(enc, dec, match):
    with pytest.raises(DeepvisError, match=match):
        check_symmetric(enc, dec)


def test_symmetry_check_accepts_mirror():
    check_symmetric((32, 64, 128), (128, 64, 32))


def test_mixed_bfloat16_keeps_the_code_and_the_output_in_float32():
    import keras

    cae = build_cae(CAEConfig(filters=(4, 8, 8), precision="mixed_bfloat16"))
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after building
    assert cae.encoder.get_layer("enc_conv1").compute_dtype == "bfloat16"
    assert cae.decoder.get_layer("dec_conv1").compute_dtype == "bfloat16"
    assert cae.encoder.get_layer("code").compute_dtype == "float32"
    assert cae.decoder.get_layer("reconstruction").compute_dtype == "float32"
    x = np.zeros((2, 28, 28, 1), dtype="float32")
    for out in (cae.autoencoder(x), cae.encoder(x)):
        assert keras.backend.standardize_dtype(out.dtype) == "float32"


def test_mirror_table_pairs_each_encoder_block_with_its_decoder_twin():
    from deepvis.cae.model import mirror_table

    rows = mirror_table(build_cae(CAEConfig(filters=(4, 8, 16), epochs=1)))
    assert [r["filters"] for r in rows] == ["4", "8", "16", "dense", "1"]
    # Hand-worked shapes: 28 -> 14 -> 7 -> 4 with "same" pooling; the decoder crops 8 back to 7.
    assert rows[0] == {
        "filters": "4",
        "encoder": "28×28×1 → 28×28×4 → 14×14×4",
        "decoder": "14×14×8 → 14×14×4 → 28×28×4",
    }
    assert rows[1]["decoder"] == "7×7×16 → 7×7×8 → 14×14×8"
    assert rows[2]["encoder"] == "7×7×8 → 7×7×16 → 4×4×16"
    assert rows[2]["decoder"] == "4×4×16 → 4×4×16 → 7×7×16"  # upsampled to 8, cropped to 7
    assert rows[3] == {"filters": "dense", "encoder": "256 → code 2", "decoder": "2 → 256 → 4×4×16"}
    assert rows[4]["decoder"] == "28×28×4 → 28×28×1"


def test_summary_text_is_keras_summary_without_row_rules():
    from deepvis.cae.model import summary_text

    cae = build_cae(CAEConfig(filters=(4, 8, 16), epochs=1))
    text = summary_text(cae.encoder)
    assert "enc_conv1 (Conv2D)" in text and "Total params" in text and "├" not in text
    layers = [line for line in text.splitlines() if line.startswith("│")]
    assert len(layers) == len(cae.encoder.layers)  # one row per layer, input included


def test_compact_summary_keeps_keras_rows_and_numbers_without_rules_or_batch_dimension():
    from deepvis.cae.model import compact_summary

    cae = build_cae(CAEConfig(filters=(16, 32, 64, 128), batch_norm=True, epochs=1))
    text = compact_summary(cae.encoder)
    lines = text.splitlines()
    assert lines[0] == 'Model: "encoder"'
    assert lines[1].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    assert not any(ch in text for ch in "│┃┏┡└")
    # one row per layer, in order, with the shapes of a real forward pass and Keras' counts
    body = lines[3 : 3 + len(cae.encoder.layers)]
    assert [row.split()[0] for row in body] == [layer.name for layer in cae.encoder.layers]
    assert body[1].split() == ["enc_conv1", "(Conv2D)", "(28,", "28,", "16)", "144"]  # 3*3*1*16
    assert body[-1].split() == ["code", "(Dense)", "(2)", "1,026"]  # 512*2 + 2
    assert "Total params: 98,898" in lines[-3]  # the 4-block encoder of the write-ups
    assert max(map(len, lines)) <= 56  # two fit side by side at 8 points (111 characters)


def test_summaries_side_by_side_keep_each_summary_whole_in_its_own_columns():
    from deepvis.cae.model import compact_summary, summaries_side_by_side

    cae = build_cae(CAEConfig(filters=(16, 32, 64, 128), batch_norm=True, epochs=1))
    parts = [compact_summary(m).splitlines() for m in (cae.encoder, cae.decoder)]
    rows = summaries_side_by_side(cae.encoder, cae.decoder, gap=3).splitlines()
    assert len(rows) == max(map(len, parts))  # as tall as the longer one
    left_width = max(map(len, parts[0]))
    left = [row[:left_width].rstrip() for row in rows]
    right = [row[left_width + 3 :] for row in rows]
    assert left[: len(parts[0])] == [line.rstrip() for line in parts[0]]
    assert not any(left[len(parts[0]) :])  # blank under the shorter summary
    assert right == [line.rstrip() for line in parts[1]]
    assert any(row.startswith("enc_conv1_bn (FusedBatchNorm)") for row in rows)


def _keras_and_fused_batch_norm(shape: tuple[int, ...]):
    """A Keras BatchNormalization and a FusedBatchNorm with the same random gamma,
    beta and moving statistics, built for `shape`."""
    rng = np.random.default_rng(0)
    keras_bn, fused_bn = layers.BatchNormalization(), FusedBatchNorm()
    for layer in (keras_bn, fused_bn):
        layer.build(shape)
    c = shape[-1]
    values = [rng.uniform(0.5, 2, c), rng.normal(size=c), rng.normal(size=c), rng.uniform(1, 3, c)]
    for layer in (keras_bn, fused_bn):
        layer.set_weights([v.astype("float32") for v in values])
    return keras_bn, fused_bn


@pytest.mark.parametrize("shape", [(8, 5, 5, 3), (64, 2, 2, 16)])
def test_fused_batch_norm_is_keras_batch_norm_in_training(shape):
    import tensorflow as tf

    keras_bn, fused_bn = _keras_and_fused_batch_norm(shape)
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape).astype("float32"))
    grads = []
    for layer in (keras_bn, fused_bn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * tf.sin(x))  # a loss whose gradient varies per element
        grads.append(tape.gradient(loss, [x, layer.gamma, layer.beta]))
        # Batch statistics: every channel of the output has mean beta and std gamma.
        np.testing.assert_allclose(np.mean(y, axis=(0, 1, 2)), layer.beta.numpy(), atol=1e-4)
    np.testing.assert_allclose(fused_bn(x, training=True), keras_bn(x, training=True), atol=1e-4)
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)
    # Two training calls each: the moving statistics (biased variance) agree.
    for a, b in zip(keras_bn.get_weights(), fused_bn.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert not np.allclose(keras_bn.moving_mean.numpy(), 0)


def test_fused_batch_norm_uses_the_moving_statistics_outside_training():
    keras_bn, fused_bn = _keras_and_fused_batch_norm((4, 3, 3, 2))
    x = np.random.default_rng(2).normal(size=(4, 3, 3, 2)).astype("float32")
    gamma, beta, mean, var = (w.numpy() for w in fused_bn.weights)
    expected = gamma * (x - mean) / np.sqrt(var + fused_bn.epsilon) + beta
    np.testing.assert_allclose(fused_bn(x, training=False), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fused_bn(x, training=False), keras_bn(x, training=False))


def test_the_cae_uses_the_fused_batch_norm_unless_told_not_to():
    def norms(cae):
        return {type(layer) for layer in cae.encoder.layers if "_bn" in layer.name}

    assert norms(build_cae(CAEConfig(filters=(4, 4, 4)))) == {FusedBatchNorm}
    unfused = build_cae(CAEConfig(filters=(4, 4, 4), fused_batch_norm=False))
    assert norms(unfused) == {layers.BatchNormalization}
