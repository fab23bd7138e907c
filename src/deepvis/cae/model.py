"""A symmetric convolutional autoencoder with a 2-neuron dense bottleneck (Exercise 1, step 1).

Encoder: ``n x (Conv2D ReLU -> MaxPooling2D)`` then Flatten and ``Dense(latent_dim)``.
Decoder, its mirror: ``Dense -> Reshape`` to the last encoder conv's output, then
``n x (Conv2D ReLU -> UpSampling2D)`` with the encoder's filter counts in reverse, and a final
``Conv2D(1, sigmoid)``.

28 -> 14 -> 7 -> 4 does not invert by upsampling: 4 -> 8 -> 16 -> 32. The encoder's pooling
uses ``padding="same"``, which pads an odd 7 x 7 map to 8 x 8 before halving it; the decoder undoes
exactly that with a ``Cropping2D`` right after the upsampling that overshoots (8 -> 7), so the
output of every decoder block (after its upsampling) has the size of the input of the mirrored
encoder block, and the output is exactly 28 x 28. Each decoder conv runs on the grid of the
encoder block's pooled output, half the size of the mirrored encoder conv.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import keras
from keras import layers, ops

from deepvis.cae.config import CAEConfig
from deepvis.errors import DeepvisError

INPUT_SHAPE = (28, 28, 1)
#: Side of every conv kernel, encoder and decoder alike.
KERNEL_SIZE = 3


@dataclass
class CAE:
    """The autoencoder and its two halves; they share weights."""

    autoencoder: keras.Model
    encoder: keras.Model
    decoder: keras.Model


def check_symmetric(encoder_filters: Sequence[int], decoder_filters: Sequence[int]) -> None:
    """Raise `DeepvisError` unless the decoder's filters are the encoder's in reverse.

    The assignment asks for a symmetric CAE: the same number of conv layers on both sides and the
    same width at mirrored positions, with at least three layers each.
    """
    enc, dec = list(encoder_filters), list(decoder_filters)
    if len(enc) < 3:
        raise DeepvisError(
            f"encoder has {len(enc)} conv layers {enc}; the assignment asks for at least 3"
        )
    if dec != enc[::-1]:
        raise DeepvisError(
            f"asymmetric CAE: decoder filters {dec} must be the encoder's {enc} in reverse "
            f"({enc[::-1]}); pass decoder_filters=None to mirror the encoder"
        )
    if any(int(f) < 1 for f in enc):
        raise DeepvisError(f"filter counts must be positive integers, got {enc}")


def spatial_sizes(size: int, depth: int) -> list[int]:
    """Side lengths after each ``padding="same"`` 2x2 pooling: 28, 3 -> [28, 14, 7, 4]."""
    sizes = [size]
    for _ in range(depth):
        sizes.append(-(-sizes[-1] // 2))
    return sizes


class FusedBatchNorm(layers.BatchNormalization):
    """Keras' `BatchNormalization`, computed in training by TensorFlow's fused kernel.

    The same function and the same variables as the Keras layer: in training it normalises by
    the batch's mean and biased variance over every axis but the channels, and updates the moving
    statistics with them (``moving = momentum * moving + (1 - momentum) * batch``); otherwise it
    uses the moving statistics, computed by Keras' own code. Keras 3 composes training-mode
    batch-norm from about ten small operations, forward and backward; TensorFlow's
    ``FusedBatchNormV3`` (oneDNN on these CPUs) does each direction in one: an isolated training
    step of the report's CAE (batch 64) took 38 to 50 ms instead of 58 to 62 ms on 2 AMD EPYC
    (AVX2) cores. Results differ from the Keras layer's in float rounding only (tested).

    The fused kernel serves 4-D float32 inputs with channels last, on the TensorFlow backend,
    with ``center`` and ``scale`` on and no renorm or mask; any other call takes Keras' path.
    """

    def _fusable(self, inputs, mask) -> bool:
        return (
            keras.backend.backend() == "tensorflow"
            and self.trainable
            and mask is None
            and not self.renorm
            and self.center
            and self.scale
            and len(inputs.shape) == 4
            and self.axis in (3, -1)
            and keras.backend.standardize_dtype(inputs.dtype) == "float32"
        )

    def call(self, inputs, training=None, mask=None):
        if not (training and self._fusable(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True
        )
        # The kernel returns the unbiased (n - 1) batch variance; Keras' layer uses the biased one.
        n = ops.cast(ops.prod(ops.shape(inputs)[:-1]), variance.dtype)
        variance = variance * (n - 1.0) / n
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum + variance * (1.0 - momentum))
        return outputs


def _conv_block(
    x, filters: int, kernel_size: int, batch_norm: bool, fused: bool, dropout: float, name: str
):
    x = layers.Conv2D(filters, kernel_size, padding="same", use_bias=not batch_norm, name=name)(x)
    if batch_norm:
        norm = FusedBatchNorm if fused else layers.BatchNormalization
        x = norm(name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    if dropout:
        x = layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(x)
    return x


@contextmanager
def dtype_policy(policy: str) -> Iterator[None]:
    """Keras' global dtype policy set to `policy` while layers are created, then restored.

    A layer keeps the policy it was created under, so a model built inside trains and predicts
    in that precision afterwards.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def build_cae(config: CAEConfig) -> CAE:
    """Build the (untrained) CAE that `config` describes, for (28, 28, 1) float32 images in [0, 1].

    Its layers compute in ``config.precision`` (`dtype_policy`); the code layer and the
    reconstruction layer (and so the 2-D codes, the sigmoid and the loss) stay float32.
    """
    with dtype_policy(config.precision):
        return _build_cae(config)


def _build_cae(config: CAEConfig) -> CAE:
    """The layers of `build_cae`, under the current dtype policy.

    Uses ``config.filters`` (encoder conv widths, first to last; the decoder uses them in
    reverse), ``latent_dim`` (2 for the assignment), ``batch_norm`` (Keras' layer, or
    `FusedBatchNorm` when ``fused_batch_norm``) and ``dropout`` (applied to every conv
    block alike) and ``bottleneck_activation`` (None, linear, by default: a ReLU
    there can zero one or both code dimensions and collapse the 2-D codes). Kernels are
    `KERNEL_SIZE` square.

    Returns
    -------
    CAE with ``autoencoder`` (N, 28, 28, 1) -> (N, 28, 28, 1) in [0, 1], ``encoder``
    (N, 28, 28, 1) -> (N, latent_dim) and ``decoder`` (N, latent_dim) -> (N, 28, 28, 1).
    """
    filters, latent_dim, dropout = list(config.filters), config.latent_dim, config.dropout
    check_symmetric(filters, filters[::-1])
    if latent_dim < 1:
        raise DeepvisError(f"latent_dim must be >= 1, got {latent_dim}")
    if not 0.0 <= dropout < 1.0:
        raise DeepvisError(f"dropout must be in [0, 1), got {dropout}")
    sizes = spatial_sizes(INPUT_SHAPE[0], len(filters))
    block = dict(
        kernel_size=KERNEL_SIZE,
        batch_norm=config.batch_norm,
        fused=config.fused_batch_norm,
        dropout=dropout,
    )

    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = inputs
    for i, f in enumerate(filters, start=1):
        x = _conv_block(x, f, name=f"enc_conv{i}", **block)
        x = layers.MaxPooling2D(2, padding="same", name=f"enc_pool{i}")(x)
    code_shape = tuple(x.shape[1:])
    x = layers.Flatten(name="enc_flatten")(x)
    # float32 codes under any policy: bfloat16 would round the 2-D points to 3 significant digits.
    code = layers.Dense(
        latent_dim, activation=config.bottleneck_activation, name="code", dtype="float32"
    )(x)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input((latent_dim,), name="code_in")
    y = layers.Dense(math.prod(code_shape), activation="relu", name="dec_dense")(code_in)
    y = layers.Reshape(code_shape, name="dec_reshape")(y)
    # each decoder block upsamples to the grid its encoder twin started from (sizes reversed)
    for i, (f, size) in enumerate(zip(filters[::-1], sizes[-2::-1], strict=True), start=1):
        y = _conv_block(y, f, name=f"dec_conv{i}", **block)
        y = layers.UpSampling2D(2, name=f"dec_up{i}")(y)
        if excess := y.shape[1] - size:  # 8 rows from 4, where the encoder's grid was 7
            y = layers.Cropping2D(((0, excess), (0, excess)), name=f"dec_crop{i}")(y)
    # float32 even under a mixed-precision policy: the sigmoid and the loss stay exact.
    outputs = layers.Conv2D(
        1, KERNEL_SIZE, padding="same", activation="sigmoid", name="reconstruction", dtype="float32"
    )(y)
    decoder = keras.Model(code_in, outputs, name="decoder")

    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="cae")
    return CAE(autoencoder=autoencoder, encoder=encoder, decoder=decoder)


def layer_shapes(cae: CAE) -> list[tuple[str, str, tuple[int, ...]]]:
    """(sub-model, layer name, output shape without batch) for every layer, in order.

    Shapes are read from a real forward pass of one zero image, as the assignment suggests, not
    from the static graph.
    """
    import numpy as np

    rows = []
    for part in (cae.encoder, cae.decoder):
        probe = keras.Model(part.input, [layer.output for layer in part.layers])
        feed = np.zeros((1, *part.inputs[0].shape[1:]), dtype="float32")
        for layer, out in zip(part.layers, probe(feed), strict=True):
            rows.append((part.name, layer.name, tuple(int(d) for d in out.shape[1:])))
    return rows


#: `summary_text`'s narrowest layout that wraps no row of the CAE's parts (names like
#: "enc_conv1_bn (FusedBatchNorm)", shapes like "(None, 28, 28, 16)"): line length and Keras'
#: column positions (fractions of the line).
NARROW_SUMMARY: tuple[int, tuple[float, ...]] = (64, (0.5, 0.85, 1.0))


def summary_text(
    model: keras.Model, line_length: int = 80, positions: Sequence[float] | None = None
) -> str:
    """Keras' ``model.summary()`` as a string, `line_length` wide (its columns ending at
    `positions`, fractions of the line; Keras' own by default), without the rules between its
    rows (half the lines, the same table).

    Keras draws the summary with rich, whose console, inside a notebook, also displays an empty
    HTML block of its own: that display is swallowed here (IPython's `capture_output`), so the
    notebook and the write-ups show the table once and no empty block."""
    from IPython.utils.capture import capture_output

    lines: list[str] = []
    with capture_output(stdout=False, stderr=False, display=True):
        model.summary(
            line_length=line_length,
            positions=list(positions) if positions else None,
            print_fn=lambda line, **_: lines.append(line),
        )
    rows = "\n".join(lines).splitlines()
    return "\n".join(row for row in rows if not row.startswith("├"))


def compact_summary(model: keras.Model) -> str:
    """Keras' summary of `model` (`summary_text` in the `NARROW_SUMMARY` layout) as plain
    columns: the same rows, names and numbers, without the box rules around and between the
    columns and without the batch dimension (``None``) of every output shape, so that two
    summaries fit side by side across a page at 8 points (52 characters a line for the CAE's
    halves, against 64)."""
    title: list[str] = []
    rows: list[list[str]] = []
    totals: list[str] = []
    for line in summary_text(model, *NARROW_SUMMARY).splitlines():
        if line[:1] in "│┃":  # a row of the table: its cells between the vertical rules
            rows.append([cell.strip() for cell in re.split("[│┃]", line)[1:-1]])
        elif line.strip() and line[:1] not in "┏┡└┗┌":  # not a horizontal rule
            (totals if rows else title).append(line.strip())
    for row in rows[1:]:  # below the header: "(None, 28, 28, 16)" -> "(28, 28, 16)"
        row[1] = re.sub(r"^\(None,\s*", "(", row[1])
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    rule = "─" * (sum(widths) + 4)

    def line_of(row: list[str]) -> str:
        return f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"

    return "\n".join([*title, line_of(rows[0]), rule, *map(line_of, rows[1:]), rule, *totals])


def summaries_side_by_side(*models: keras.Model, gap: int = 4) -> str:
    """The `compact_summary` of each of `models`, beside one another (`gap` spaces apart),
    each padded to its widest line: the encoder's and the decoder's summaries side by side
    take the height of the longer one only."""
    blocks = [compact_summary(m).splitlines() for m in models]
    height = max(map(len, blocks))
    columns = []
    for block in blocks:
        width = max(map(len, block))
        padding = [" " * width] * (height - len(block))  # under the shorter summary
        columns.append([line.ljust(width) for line in block] + padding)
    return "\n".join((" " * gap).join(row).rstrip() for row in zip(*columns, strict=True))


def mirror_table(cae: CAE) -> list[dict[str, str]]:
    """The encoder's conv blocks beside the decoder's blocks that mirror them, with the shapes
    a real forward pass gives (`layer_shapes`): one row per pair, first encoder block first,
    then the dense layers around the code and the output layer.

    Each row: ``{"filters", "encoder", "decoder"}``; a block reads ``"28×28×1 → 28×28×16 →
    14×14×16"`` (its input, its convolution's output, its pooling's or upsampling's output).
    Symmetry shows as equal filters in a row and as each decoder block ending on the grid the
    mirrored encoder block starts from.
    """
    shapes = {layer: shape for _, layer, shape in layer_shapes(cae)}
    enc = [layer.name for layer in cae.encoder.layers]
    dec = [layer.name for layer in cae.decoder.layers]

    def shape(name: str) -> str:
        return "×".join(map(str, shapes[name]))

    def block(names: list[str], conv: str, last: str) -> str:
        return f"{shape(names[names.index(conv) - 1])} → {shape(conv)} → {shape(last)}"

    n = sum(1 for name in enc if name.startswith("enc_pool"))
    rows = []
    for i in range(1, n + 1):
        j = n + 1 - i  # the decoder block that mirrors encoder block i
        rows.append(
            {
                "filters": str(shapes[f"enc_conv{i}"][-1]),
                "encoder": block(enc, f"enc_conv{i}", f"enc_pool{i}"),
                "decoder": block(
                    dec, f"dec_conv{j}", f"dec_crop{j}" if f"dec_crop{j}" in dec else f"dec_up{j}"
                ),
            }
        )
    rows.append(
        {
            "filters": "dense",
            "encoder": f"{shape('enc_flatten')} → code {shape('code')}",
            "decoder": f"{shape('code_in')} → {shape('dec_dense')} → {shape('dec_reshape')}",
        }
    )
    rows.append(
        {
            "filters": "1",
            "encoder": "(the input image)",
            "decoder": f"{shape(dec[-2])} → {shape('reconstruction')}",
        }
    )
    return rows
