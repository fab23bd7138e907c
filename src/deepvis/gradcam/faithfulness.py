"""Faithfulness of the CAM maps: removal scored in logits against structured random maps.

A map is faithful when removing the pixels it ranks highest hurts the class it explains more
than removing pixels ranked at random. `removal_scores` measures each removal as

* the **logit drop** ``z_c(x) - z_c(x')``, the class's pre-softmax score before minus after:
  unlike a drop in probability it is not capped by the class's probability (a class at 2 % can
  lose at most 0.02 of probability, but any amount of logit);
* the **relative probability drop** ``1 - p_c(x') / p_c(x)``: the share of the class's own
  probability that the removal takes (negative when the probability rises).

Removal ranks the pixels by the map upsampled to the network's input exactly as the evaluation
does (`deepvis.gradcam.evaluation.upsample`: bilinear, half-pixel centres) and takes the
``round(f * S^2)`` highest (MoRF, most relevant first) or lowest (LeRF) of them; ties are
broken by one fixed random permutation of the pixels (`tie_order`), so a map's flat region
(EigenCAM's zeros, say) is removed in no particular place rather than top row first. The
removed pixels are filled by one of `IMPUTATIONS`: ROAD's noisy linear imputation (Rong et al.
2022; `deepvis.gradcam.evaluation.impute`), the ImageNet mean colour (RISE's deletion
substrate), or a Gaussian blur of the image.

The **baseline** is random maps of the same structure: uniform noise on the map's own grid
(7x7 at EfficientNet-Lite0's ``top_activation``; `random_grid`), upsampled and thresholded by the
same rule, so a random removal is as blob-like as a real one and has exactly its pixel count.
One set of draws serves every image, class and method (each draw is one grid map), so each map
is compared with the same draws on its own image (`per_map`: the baseline's mean and standard
deviation across draws, and the share of draws the map beats).

**ROAD curves** repeat the removal at several fractions, MoRF and LeRF (`curve`,
`curve_figure`); `road_area` reduces them to the mean over fractions and the MoRF - LeRF gap.

**Intervals** are 95 % percentile bootstraps over images, or, for composites, over the
photographs they are made of (`deepvis.gradcam.pointing.bootstrap_means`, `interval`).

**Held-out settings.** The headline setting (imputation and removal fraction) is chosen by
`choose` (the rule: `RULE`) on licence-clear photographs that are *not* scored
(`held_out`: every candidate of `deepvis.gradcam.pointing.PHOTOS` whose content matches no
scored image), and only then are the test images' top-3 maps and the composites made of scored
photographs alone scored with it (`run`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

from deepvis.errors import DeepvisError
from deepvis.gradcam.evaluation import (
    BLUR_RADIUS,
    MEAN_RGB,
    impute,
    network_images,
    random_maps,
    upsample,
)
from deepvis.gradcam.methods import CAM_METHODS, METHODS
from deepvis.gradcam.pointing import BOOTSTRAP_DRAWS, LEVEL, bootstrap_means, interval

#: How removed pixels are filled: ROAD's noisy linear imputation, the ImageNet mean colour,
#: or the image blurred (Gaussian, radius `deepvis.gradcam.evaluation.BLUR_RADIUS`).
IMPUTATIONS = ("road", "mean", "blur")
#: The removal orders: most relevant first (a faithful map's drop is large), least relevant
#: first (a faithful map's drop is small).
ORDERS = ("MoRF", "LeRF")
#: The headline fractions `choose` picks from: up to half the image, so that what is removed
#: is still the map's choice and not most of the picture.
CHOICE_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5)
#: The maps of the choice: every CAM method but Score-CAM (one masked pass per channel:
#: 1,280 per photograph at ``top_activation``).
CHOICE_METHODS = tuple(m for m in CAM_METHODS if m != "scorecam")
#: The baseline's name in the frames.
RANDOM = "random"
#: Guards the standardised lead against a baseline without spread (logit units).
SD_FLOOR = 1e-6
#: Two images are the same photograph when their `thumbnail`s correlate at least this much.
SAME_PHOTO = 0.9
#: Images per forward pass.
BATCH = 32
#: The choice rule, as `record` states it.
RULE = (
    "on the held-out photographs' top-1 maps (every CAM method but Score-CAM), take the "
    "imputation and MoRF fraction whose mean standardised lead (map's logit drop minus the "
    "random maps' mean, over their standard deviation across draws) is largest; ties go to "
    "the smaller fraction, then to the imputation listed first"
)
#: The columns of `removal_scores`.
COLUMNS = [
    "image",
    "slot",
    "class",
    "method",
    "draw",
    "imputation",
    "order",
    "fraction",
    "logit_before",
    "logit_after",
    "logit_drop",
    "prob_before",
    "prob_after",
    "prob_drop",
]


@dataclass(frozen=True)
class Setting:
    """A removal: fill the top (MoRF) ``fraction`` of the pixels by ``imputation``."""

    imputation: str
    fraction: float


# --------------------------------------------------------------------------- checks


def _check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    """The fractions as floats, each strictly between 0 and 1."""
    out = tuple(float(f) for f in fractions)
    if not out or any(not 0.0 < f < 1.0 for f in out):
        raise DeepvisError(f"removal fractions must lie strictly between 0 and 1, not {out}")
    return out


def _check_choices(values: Sequence[str], allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """`values` as a tuple, each one of `allowed`."""
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise DeepvisError(f"unknown {what} {bad or list(values)}; choose from {list(allowed)}")
    return tuple(values)


# --------------------------------------------------------------------------- masks


def tie_order(size: int, seed: int = 0) -> np.ndarray:
    """A random rank (size * size,) int64 per pixel: breaks ties in the saliency order."""
    return np.random.default_rng(seed).permutation(size * size)


def removal_masks(
    heat: np.ndarray, fractions: Sequence[float], most: bool, ties: np.ndarray
) -> np.ndarray:
    """Which pixels each fraction removes: (F, S, S) bool, True = removed.

    ``heat`` (S, S) a map at the input size; the ``round(f * S^2)`` pixels of highest
    (``most``) or lowest saliency, ties by ``ties`` (`tie_order`). The masks are nested.
    """
    flat = np.asarray(heat, np.float64).ravel()
    order = np.lexsort((ties, -flat if most else flat))
    masks = np.zeros((len(fractions), flat.size), dtype=bool)
    for mask, fraction in zip(masks, fractions, strict=True):
        mask[order[: int(round(fraction * flat.size))]] = True
    return masks.reshape(len(fractions), *np.shape(heat))


def random_grid(draws: int, grid: tuple[int, int], seed: int = 0) -> np.ndarray:
    """The baseline's maps: (draws, h, w) float32 uniform in [0, 1) on the map's grid
    (`deepvis.gradcam.evaluation.random_maps`)."""
    return random_maps((1, draws, *grid), seed)[0]


# --------------------------------------------------------------------------- removal


def blurred(base: np.ndarray) -> np.ndarray:
    """(M, S, S, 3) float RGB in [0, 255] -> the same, Gaussian-blurred (radius
    `deepvis.gradcam.evaluation.BLUR_RADIUS`, on the uint8 image), float32."""
    blur = ImageFilter.GaussianBlur(BLUR_RADIUS)
    return np.stack(
        [
            np.asarray(Image.fromarray(np.uint8(np.clip(np.rint(im), 0, 255))).filter(blur))
            for im in base
        ]
    ).astype(np.float32)


def fill(
    base: np.ndarray,
    removed: np.ndarray,
    imputation: str,
    rng: np.random.Generator,
    blur: np.ndarray | None = None,
) -> np.ndarray:
    """``base`` (M, S, S, 3) float RGB with the pixels of ``removed`` (S, S) bool filled:
    (M, S, S, 3) float32.

    ``"road"``: `deepvis.gradcam.evaluation.impute` of the M images stacked along the channels
    (one sparse factorisation for all; independent noise per image); ``"mean"``: the ImageNet
    mean colour; ``"blur"``: ``blur`` (M, S, S, 3), the images blurred (`blurred`).
    """
    m, height, width, _ = base.shape
    if imputation == "road":
        stacked = np.moveaxis(np.asarray(base, np.float32), 0, 2).reshape(height, width, 3 * m)
        out = impute(stacked, ~removed, rng).reshape(height, width, m, 3)
        return np.ascontiguousarray(np.moveaxis(out, 2, 0))
    substrate = np.broadcast_to(MEAN_RGB, base.shape) if imputation == "mean" else blur
    return np.where(removed[None, ..., None], substrate, base).astype(np.float32)


def _forward(cam: Any, net: Any, images: Iterable[np.ndarray]) -> np.ndarray:
    """Logits (T, classes) float64 of T RGB images (S, S, 3), `BATCH` at a time."""
    out, chunk = [], []
    for image in images:
        chunk.append(image)
        if len(chunk) == BATCH:
            out.append(cam.logits(net.preprocess(np.stack(chunk))))
            chunk = []
    if chunk:
        out.append(cam.logits(net.preprocess(np.stack(chunk))))
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, cam.num_classes))


def _lse(logits: np.ndarray) -> float:
    """log(sum(exp(logits))) of one logit vector (classes,), computed stably."""
    top = float(np.max(logits))
    return top + float(np.log(np.exp(logits - top).sum()))


def removal_scores(
    cam: Any,
    net: Any,
    base: np.ndarray,
    maps: Mapping[str, np.ndarray],
    classes: np.ndarray,
    fractions: Sequence[float],
    orders: Sequence[str] = ("MoRF",),
    imputation: str = "road",
    draws: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """Every map's removals and ``draws`` random maps', one row per map, order and fraction.

    ``cam`` a `deepvis.gradcam.core.GradCAM` on ``net.model`` (its ``logits``); ``net`` an
    ``ImageNetModel`` (``preprocess``); ``base`` (N, S, S, 3) float RGB in [0, 255] at the input
    size (`deepvis.gradcam.evaluation.network_images`); ``maps`` method -> (N, k, h, w) maps on
    one grid (any scale: only their order counts); ``classes`` (N, k) int, the class each map
    explains. Random draw d is `random_grid` ``(seed)``'s map d, the same for every image and
    class. Removal and filling as the module says; ROAD's noise from ``seed``.

    Columns (`COLUMNS`): ``image`` (0..N-1), ``slot`` (0..k-1), ``class``, ``method`` (a name
    of ``maps`` or `RANDOM`), ``draw`` (-1 for the maps), ``imputation``, ``order``,
    ``fraction``; the class's ``logit_before``, ``logit_after``, ``logit_drop`` (before - after)
    and softmax ``prob_before``, ``prob_after``, ``prob_drop`` (1 - after / before).

    Cost: one filled image and forward pass per distinct mask; a map's masks are shared by
    the methods and classes that give the same one (Grad-CAM, XGrad-CAM and HiResCAM coincide
    where the gradient is constant over the grid), a random draw's by all N images.
    """
    fractions = _check_fractions(fractions)
    orders = _check_choices(orders, ORDERS, "removal orders")
    (imputation,) = _check_choices([imputation], IMPUTATIONS, "imputation")
    base = np.asarray(base, np.float32)
    classes = np.asarray(classes, np.int64)
    n, size = len(base), base.shape[1]
    if base.ndim != 4 or base.shape[1:] != (size, size, 3) or classes.ndim != 2:
        raise DeepvisError(
            f"need images (N, S, S, 3) and classes (N, k), not {base.shape}, {classes.shape}"
        )
    grids = {m.shape[2:] for m in maps.values()}
    if len(grids) > 1 or any(m.shape[:2] != classes.shape for m in maps.values()):
        raise DeepvisError(f"maps must share one grid and match classes {classes.shape}")
    if draws and not maps:
        raise DeepvisError("random maps need the real maps' grid: give at least one map")
    rng = np.random.default_rng(seed)
    ties = tie_order(size, seed)
    blur = blurred(base) if imputation == "blur" else None
    before = _forward(cam, net, base)
    rows: list[tuple[Any, ...]] = []

    def emit(i: int, j: int, method: str, draw: int, order: str, f: float, after: Any) -> None:
        c = int(classes[i, j])
        rows.append(
            (i, j, c, method, draw, order, f, before[i, c], _lse(before[i]), after[c], _lse(after))
        )

    up = {name: upsample(grid, size) for name, grid in maps.items()}
    for i in range(n):
        distinct: dict[bytes, int] = {}
        masks: list[np.ndarray] = []
        where = []
        for name, heat in up.items():
            for j in range(classes.shape[1]):
                for order in orders:
                    sets = removal_masks(heat[i, j], fractions, order == "MoRF", ties)
                    for f, mask in zip(fractions, sets, strict=True):
                        key = mask.tobytes()
                        if key not in distinct:
                            distinct[key] = len(masks)
                            masks.append(mask)
                        where.append((j, name, order, f, distinct[key]))
        own = base[i : i + 1]
        after = _forward(cam, net, (fill(own, m, imputation, rng, _row(blur, i))[0] for m in masks))
        for j, name, order, f, k in where:
            emit(i, j, name, -1, order, f, after[k])
    if draws:
        noise = upsample(random_grid(draws, next(iter(grids)), seed)[None], size)[0]
        for d, heat in enumerate(noise):
            for order in orders:
                sets = removal_masks(heat, fractions, order == "MoRF", ties)
                for f, mask in zip(fractions, sets, strict=True):
                    after = _forward(cam, net, fill(base, mask, imputation, rng, blur))
                    for i in range(n):
                        for j in range(classes.shape[1]):
                            emit(i, j, RANDOM, d, order, f, after[i])
    return _frame(rows, imputation)


def _row(blur: np.ndarray | None, i: int) -> np.ndarray | None:
    """Image i's blurred copy (1, S, S, 3), or None."""
    return None if blur is None else blur[i : i + 1]


def _frame(rows: list[tuple[Any, ...]], imputation: str) -> pd.DataFrame:
    """`removal_scores`' rows (image, slot, class, method, draw, order, fraction, logit
    before, its log-sum-exp, logit after, its log-sum-exp) as its frame."""
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    columns = list(zip(*rows, strict=True))
    image, slot, cls, method, draw, order, fraction = columns[:7]
    z_before, lse_before, z_after, lse_after = (np.asarray(c, np.float64) for c in columns[7:])
    logp_before, logp_after = z_before - lse_before, z_after - lse_after
    frame = pd.DataFrame(
        {
            "image": np.asarray(image, np.int64),
            "slot": np.asarray(slot, np.int64),
            "class": np.asarray(cls, np.int64),
            "method": list(method),
            "draw": np.asarray(draw, np.int64),
            "imputation": imputation,
            "order": list(order),
            "fraction": np.asarray(fraction, np.float64),
            "logit_before": z_before,
            "logit_after": z_after,
            "logit_drop": z_before - z_after,
            "prob_before": np.exp(logp_before),
            "prob_after": np.exp(logp_after),
            "prob_drop": -np.expm1(logp_after - logp_before),
        }
    )
    return frame[COLUMNS]


# --------------------------------------------------------------------------- per map


def per_map(frame: pd.DataFrame, fraction: float, order: str = "MoRF") -> pd.DataFrame:
    """One row per image, slot and method at one ``fraction`` and ``order`` of
    `removal_scores`: ``logit_drop`` and ``prob_drop`` (the map's), ``random_mean`` and
    ``random_sd`` (the random draws' logit drops on the same image and class: mean, standard
    deviation across draws), ``lead`` (drop minus ``random_mean``), ``z`` (``lead`` over
    ``random_sd``, floored at `SD_FLOOR`) and ``beaten`` (the share of draws whose logit drop
    is below the map's, ties counting half)."""
    at = frame[(frame["order"] == order) & np.isclose(frame["fraction"], fraction)]
    if at.empty or not (at["method"] == RANDOM).any():
        raise DeepvisError(f"no random draws at {order} fraction {fraction} to compare with")
    keys = ["image", "slot"]
    rand = at[at["method"] == RANDOM].pivot_table(index=keys, columns="draw", values="logit_drop")
    maps = at[at["method"] != RANDOM].set_index(keys)
    drops = rand.reindex(maps.index).to_numpy()  # (rows, draws)
    own = maps["logit_drop"].to_numpy()[:, None]
    sd = drops.std(axis=1, ddof=1) if drops.shape[1] > 1 else np.zeros(len(drops))
    out = pd.DataFrame(
        {
            "method": maps["method"].to_numpy(),
            "class": maps["class"].to_numpy(),
            "logit_drop": own[:, 0],
            "prob_drop": maps["prob_drop"].to_numpy(),
            "random_mean": drops.mean(axis=1),
            "random_sd": sd,
            "beaten": ((drops < own) + 0.5 * (drops == own)).mean(axis=1),
        },
        index=maps.index,
    )
    out["lead"] = out["logit_drop"] - out["random_mean"]
    out["z"] = out["lead"] / np.maximum(out["random_sd"], SD_FLOOR)
    return out.reset_index()


def mean_interval(
    values: np.ndarray,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
    parts: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """The mean of ``values`` (N, k) (rows: images or composites) and its `LEVEL` percentile
    bootstrap interval (`deepvis.gradcam.pointing.bootstrap_means`: rows resampled, or, given
    the composites' ``parts`` (N, k) photograph names, the photographs): (mean, low, high)."""
    values = np.asarray(values, np.float64)
    return (float(values.mean()), *interval(bootstrap_means(values, draws, seed, parts), LEVEL))


def _matrix(rows: pd.DataFrame, column: str) -> np.ndarray:
    """One method's ``column`` as (N images, k slots)."""
    return rows.pivot_table(index="image", columns="slot", values=column).to_numpy()


def _parts(parts: np.ndarray | None, rows: pd.DataFrame) -> np.ndarray | None:
    """The photographs of the composites in ``rows``, in `_matrix`'s order (None: images)."""
    return None if parts is None else np.asarray(parts)[np.unique(rows["image"].to_numpy())]


def summary(
    frame: pd.DataFrame,
    fraction: float,
    order: str = "MoRF",
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
    parts: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per method (then `RANDOM`) at one fraction and order: the maps' mean ``logit_drop``,
    ``prob_drop``, ``lead`` over the random maps and share ``beaten``, each with its `LEVEL`
    bootstrap interval over images (``*_low``, ``*_high``; the same resamples for every
    column; for composites, ``parts`` (M, k) the photographs of composite ``image`` = 0 .. M-1,
    resampled instead, `mean_interval`), the baseline's ``random_mean`` and ``random_sd``
    (mean over maps of the spread across draws), and ``maps``. The `RANDOM` row: the draws'
    mean drops; its lead (0) and share beaten (0.5) hold by definition, their intervals too.
    """
    maps = per_map(frame, fraction, order)
    rows = []
    for method, group in maps.groupby("method", sort=False):
        row: dict[str, Any] = {"method": method, "maps": len(group)}
        photos = _parts(parts, group)
        for column in ("logit_drop", "prob_drop", "lead", "beaten"):
            mean, low, high = mean_interval(_matrix(group, column), draws, seed, photos)
            row.update({column: mean, f"{column}_low": low, f"{column}_high": high})
        row["random_mean"] = float(group["random_mean"].mean())
        row["random_sd"] = float(group["random_sd"].mean())
        rows.append(row)
    at = frame[(frame["order"] == order) & np.isclose(frame["fraction"], fraction)]
    rand = (
        at[at["method"] == RANDOM]
        .groupby(["image", "slot"], as_index=False)[["logit_drop", "prob_drop"]]
        .mean()
    )
    row = {"method": RANDOM, "maps": len(rand)}
    row.update({f"lead{end}": 0.0 for end in ("", "_low", "_high")})  # 0 by definition
    row.update({f"beaten{end}": 0.5 for end in ("", "_low", "_high")})
    for column in ("logit_drop", "prob_drop"):
        mean, low, high = mean_interval(_matrix(rand, column), draws, seed, _parts(parts, rand))
        row.update({column: mean, f"{column}_low": low, f"{column}_high": high})
    row["random_mean"] = row["logit_drop"]
    row["random_sd"] = float(maps.groupby(["image", "slot"])["random_sd"].first().mean())
    rows.append(row)
    return pd.DataFrame(rows).set_index("method")


# --------------------------------------------------------------------------- ROAD curves


#: The columns of `table_frame`: the write-up's faithfulness table.
TABLE_COLUMNS = ("test images: logit drop", "test images: lead", "composites: lead")


def table_frame(images: pd.DataFrame, composites: pd.DataFrame | None = None) -> pd.DataFrame:
    """`summary` tables of the test images and of the composites (None: not measured) as the
    write-up's table: index ``map`` (the method's title, `RANDOM` last), columns
    `TABLE_COLUMNS`, each ``"mean [low, high]"``; "—" where the composites were not scored."""

    def cited(table: pd.DataFrame | None, method: str, column: str) -> str:
        if table is None or method not in table.index:
            return "—"
        row = table.loc[method]
        return f"{row[column]:.2f} [{row[column + '_low']:.2f}, {row[column + '_high']:.2f}]"

    return pd.DataFrame(
        {
            TABLE_COLUMNS[0]: [cited(images, m, "logit_drop") for m in images.index],
            TABLE_COLUMNS[1]: [cited(images, m, "lead") for m in images.index],
            TABLE_COLUMNS[2]: [cited(composites, m, "lead") for m in images.index],
        },
        index=pd.Index([title(m) for m in images.index], name="map"),
    )


def curve(frame: pd.DataFrame, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> pd.DataFrame:
    """The ROAD curves of `removal_scores`: one row per method (then `RANDOM`), order and
    fraction with the mean ``logit_drop`` over maps and its `LEVEL` bootstrap interval over
    images (``low``, ``high``); for `RANDOM` also ``sd``, the standard deviation across draws
    of each draw's mean over the maps (a single random map's spread), NaN for the methods."""
    rows = []
    for (method, order, fraction), group in frame.groupby(
        ["method", "order", "fraction"], sort=False
    ):
        per_image = group.groupby(["image", "slot"], as_index=False)["logit_drop"].mean()
        mean, low, high = mean_interval(_matrix(per_image, "logit_drop"), draws, seed)
        sd = np.nan
        if method == RANDOM:
            by_draw = group.groupby("draw")["logit_drop"].mean()
            sd = float(by_draw.std(ddof=1)) if len(by_draw) > 1 else 0.0
        rows.append((method, order, fraction, mean, low, high, sd))
    columns = ["method", "order", "fraction", "logit_drop", "low", "high", "sd"]
    return pd.DataFrame(rows, columns=columns)


def road_area(frame: pd.DataFrame, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> pd.DataFrame:
    """Per method (then `RANDOM`): the ROAD curves' mean logit drop over the fractions,
    ``morf`` (higher is more faithful) and ``lerf`` (lower is), and ``gap`` = ``morf`` -
    ``lerf``, each with its `LEVEL` bootstrap interval over images (same resamples)."""
    keys = ["method", "order", "image", "slot"]
    means = frame.groupby(keys, as_index=False)["logit_drop"].mean()
    rows = []
    for method in dict.fromkeys(frame["method"]):
        own = means[means["method"] == method]
        morf = _matrix(own[own["order"] == "MoRF"], "logit_drop")
        lerf = _matrix(own[own["order"] == "LeRF"], "logit_drop")
        row: dict[str, Any] = {"method": method}
        for name, values in (("morf", morf), ("lerf", lerf), ("gap", morf - lerf)):
            mean, low, high = mean_interval(values, draws, seed)
            row.update({name: mean, f"{name}_low": low, f"{name}_high": high})
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def title(method: str) -> str:
    """A method's title (``"Grad-CAM"``), ``"Random map"`` for `RANDOM`."""
    return "Random map" if method == RANDOM else METHODS[method].title


def curve_figure(curves: pd.DataFrame, imputation: str = "road") -> Any:
    """ROAD curves of `curve`: a MoRF and a LeRF panel, removal fraction on x, mean logit drop
    on y, one line per method and the random maps as a band (mean +- one standard deviation
    across draws). A `matplotlib.figure.Figure`, 6.5 inches wide."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 3.0), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, order in zip(axes, ORDERS, strict=True):
        rows = curves[curves["order"] == order]
        for method, line in rows.groupby("method", sort=False):
            x, y = line["fraction"].to_numpy(), line["logit_drop"].to_numpy()
            if method == RANDOM:
                sd = line["sd"].to_numpy()
                ax.fill_between(x, y - sd, y + sd, color="0.8", label="Random map (mean ± sd)")
                ax.plot(x, y, color="0.4", linestyle="--", linewidth=1)
            else:
                ax.plot(x, y, marker="o", markersize=3, linewidth=1.2, label=title(method))
        better = "higher" if order == "MoRF" else "lower"
        ax.set_title(f"{order}: {better} is more faithful", fontsize=9)
        ax.set_xlabel("fraction of pixels removed", fontsize=8)
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel(f"drop in class logit ({imputation} imputation)", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=7)
    return fig


# --------------------------------------------------------------------------- held-out choice


def thumbnail(image: np.ndarray, side: int = 32) -> np.ndarray:
    """An image (H, W, 3) uint8 as a grey side x side thumbnail (whole image, bilinear),
    standardised to mean 0 and standard deviation 1: (side * side,) float64."""
    grey = Image.fromarray(np.asarray(image, np.uint8)).convert("L")
    small = np.asarray(grey.resize((side, side), Image.BILINEAR), np.float64).ravel()
    return (small - small.mean()) / max(small.std(), 1e-9)


def held_out(
    photos: Mapping[str, np.ndarray], scored: Sequence[np.ndarray], same: float = SAME_PHOTO
) -> dict[str, np.ndarray]:
    """The photographs of ``photos`` (name -> (H, W, 3) uint8) that are none of the
    ``scored`` images: their `thumbnail` correlates below ``same`` with every scored one's
    (so a scored image is recognised by its content, whatever its name, file format or
    size)."""
    marks = np.stack([thumbnail(im) for im in scored]) if len(scored) else np.zeros((0, 1024))
    return {
        name: image
        for name, image in photos.items()
        if not len(marks) or (marks @ thumbnail(image) / marks.shape[1]).max() < same
    }


def choice_scores(
    cam: Any,
    net: Any,
    photos: Mapping[str, np.ndarray],
    methods: Sequence[str] = CHOICE_METHODS,
    imputations: Sequence[str] = IMPUTATIONS,
    fractions: Sequence[float] = CHOICE_FRACTIONS,
    draws: int = 8,
    seed: int = 0,
) -> pd.DataFrame:
    """`per_map` of every candidate setting on ``photos`` (name -> (H, W, 3) uint8, resized
    whole to the input): each photograph's top-1 class, the maps of ``methods`` at ``cam``'s
    layer and ``draws`` random maps, MoRF. Adds ``photo`` (the name), ``imputation`` and
    ``fraction``."""
    names = list(photos)
    base = network_images(net, [photos[name] for name in names])
    found = cam.compute_all(net.preprocess(base), methods, top=1)
    maps = {name: result.maps for name, result in found.items()}
    classes = next(iter(found.values())).classes
    frames = []
    for imputation in imputations:
        scores = removal_scores(
            cam, net, base, maps, classes, fractions, ("MoRF",), imputation, draws, seed
        )
        for fraction in fractions:
            rows = per_map(scores, fraction)
            rows.insert(0, "photo", [names[i] for i in rows["image"]])
            frames.append(rows.assign(imputation=imputation, fraction=fraction))
    return pd.concat(frames, ignore_index=True)


def criteria(scores: pd.DataFrame) -> pd.DataFrame:
    """Per candidate setting of `choice_scores` (rows in candidate order): ``criterion``, the
    mean standardised lead ``z`` over the held-out maps, and ``beaten``, the mean share of
    random draws beaten (for the record; the rule uses ``criterion``)."""
    return (
        scores.groupby(["imputation", "fraction"], sort=False)[["z", "beaten"]]
        .mean()
        .rename(columns={"z": "criterion"})
        .reset_index()
    )


def choose(table: pd.DataFrame) -> Setting:
    """The choice rule (`RULE`): the setting of `criteria`' ``table`` with the largest
    ``criterion``; ties go to the smaller fraction, then to the earlier of `IMPUTATIONS`."""
    if table.empty:
        raise DeepvisError("no candidate settings to choose from: no held-out photographs?")
    rank = table.assign(which=[IMPUTATIONS.index(i) for i in table["imputation"]])
    best = rank.sort_values(
        ["criterion", "fraction", "which"], ascending=[False, True, True], kind="stable"
    ).iloc[0]
    return Setting(str(best["imputation"]), float(best["fraction"]))


def held_out_choice(
    cam: Any,
    net: Any,
    photos: Mapping[str, np.ndarray],
    scored: Sequence[np.ndarray],
    methods: Sequence[str] = CHOICE_METHODS,
    limit: int | None = None,
    draws: int = 8,
    seed: int = 0,
) -> tuple[list[str], pd.DataFrame, Setting]:
    """The setting chosen without the scored images: the first ``limit`` (all when None)
    photographs of `held_out` (``photos`` against ``scored``), their `choice_scores` with
    ``draws`` random maps, `criteria` and `choose`. Returns (the photographs' names, the
    criteria, the setting)."""
    chosen = dict(list(held_out(photos, scored).items())[:limit])
    table = criteria(choice_scores(cam, net, chosen, methods, draws=draws, seed=seed))
    return list(chosen), table, choose(table)


# --------------------------------------------------------------------------- the study


@dataclass(frozen=True)
class Study:
    """Everything `run` measured.

    ``held_out`` the photographs the setting was chosen on; ``choice`` their `criteria`;
    ``setting`` the chosen one (`choose`); ``headline`` the test images' `removal_scores` at
    ``setting`` (MoRF, many random draws); ``curves`` their ROAD `removal_scores` (MoRF and
    LeRF, several fractions); ``composites`` the scored composites' `removal_scores` at
    ``setting`` (image = composite, slot = part) and ``parts`` their photographs (M, 2);
    ``seconds`` wall-clock seconds per stage (``choice``, ``maps``, ``headline``, ``curves``,
    ``composites``) and CPU seconds (``choice_cpu``, ...).
    """

    held_out: list[str]
    choice: pd.DataFrame
    setting: Setting
    headline: pd.DataFrame
    curves: pd.DataFrame
    composites: pd.DataFrame
    parts: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Records the ``with`` block's wall-clock seconds as ``seconds[name]`` and the process's
    CPU seconds (all threads) as ``seconds[name + "_cpu"]``."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    seconds[name] = time.perf_counter() - wall
    seconds[f"{name}_cpu"] = time.process_time() - cpu


def scored_composites(comps: Any, found: Any, excluded: Iterable[str]) -> tuple[Any, Any]:
    """The composites of ``comps`` (`deepvis.gradcam.pointing.Composites`) none of whose
    parts is in ``excluded``, and their maps ``found`` (`pointing.LayerMaps`, or None)."""
    from deepvis.gradcam.pointing import Composites, LayerMaps

    out = set(excluded)
    keep = np.array([not out & set(parts) for parts in comps.parts], dtype=bool)
    sub = Composites(comps.parts[keep], comps.images[keep], comps.cells[keep], comps.classes[keep])
    if found is None:
        return sub, None
    maps = LayerMaps(
        found.layer,
        {m: v[keep] for m, v in found.maps.items()},
        {m: v[keep] for m, v in found.zero.items()},
        found.ranks[keep],
    )
    return sub, maps


def run(
    net: Any,
    images: Sequence[np.ndarray],
    plan: Any,
    layer: str | None = None,
    methods: Sequence[str] = CAM_METHODS,
    results: Mapping[str, Any] | None = None,
    photos: Mapping[str, np.ndarray] | None = None,
    comps: Any = None,
    comp_maps: Any = None,
    top: int = 3,
    seed: int = 0,
) -> Study:
    """Choose the setting on held-out photographs, then score the test images and composites.

    ``net`` an ``ImageNetModel``; ``images`` the test images (uint8 RGB, any size), of which
    the first ``plan.eval_images`` are scored; ``plan`` a `deepvis.gradcam.budget.Budget`;
    ``layer`` the explained layer (default ``net.layer``); ``methods`` the CAM methods scored;
    ``results`` their maps of the test images' top-``top`` classes at ``layer`` (method ->
    `deepvis.gradcam.core.CAMResult`, computed when missing); ``photos`` the candidates
    (default `deepvis.gradcam.pointing.candidates`).

    1. The choice: `held_out` of ``photos`` against ``images`` (at most
       ``plan.faith_held_out``), `choice_scores` with ``plan.faith_choice_draws`` random maps,
       `criteria`, `choose`.
    2. The test images' top-``top`` maps at the chosen setting with ``plan.faith_draws`` random
       maps, and their ROAD curves (MoRF and LeRF at ``plan.faith_fractions``, ROAD
       imputation) with ``plan.faith_curve_draws``.
    3. The composites (``comps``, default: every qualifying pair of the photographs not held
       out, `deepvis.gradcam.pointing.composites`) with no held-out part, each part's own
       class, at the chosen setting with ``plan.faith_draws`` random maps; ``comp_maps`` their
       `pointing.LayerMaps` at ``layer`` when already computed.
    """
    from deepvis.gradcam import pointing
    from deepvis.gradcam.core import GradCAM

    layer = layer or net.layer
    seconds: dict[str, float] = {}
    cam = GradCAM(net.model, layer)
    photos = pointing.candidates() if photos is None else photos
    images = list(images)[: plan.eval_images]
    with _timed(seconds, "choice"):
        no_scorecam = [m for m in methods if m in CHOICE_METHODS]
        chosen, table, setting = held_out_choice(
            cam,
            net,
            photos,
            images,
            no_scorecam,
            plan.faith_held_out,
            plan.faith_choice_draws,
            seed,
        )
    with _timed(seconds, "maps"):
        x = net.prepare(images)
        missing = [m for m in methods if results is None or m not in results]
        found = {**(results or {}), **(cam.compute_all(x, missing, top=top) if missing else {})}
        maps = {m: found[m].maps[: len(images)] for m in methods}
        if any(grid.shape[2:] != cam.grid for grid in maps.values()):
            raise DeepvisError(f"the maps given are not on {layer}'s {cam.grid} grid")
        classes = found[methods[0]].classes[: len(images)]
    base = network_images(net, images)
    at = {"fractions": [setting.fraction], "imputation": setting.imputation, "seed": seed}
    with _timed(seconds, "headline"):
        headline = removal_scores(cam, net, base, maps, classes, draws=plan.faith_draws, **at)
    with _timed(seconds, "curves"):
        road = {"orders": ORDERS, "draws": plan.faith_curve_draws, "seed": seed}
        curves = removal_scores(cam, net, base, maps, classes, plan.faith_fractions, **road)
    with _timed(seconds, "composites"):
        if comps is None:
            rest = {n: p for n, p in photos.items() if n not in chosen}
            comps = pointing.composites(rest, pointing.qualify(net, rest), net.input_size)
            comp_maps = None
        if comp_maps is not None and comp_maps.layer != layer:
            raise DeepvisError(f"the composites' maps are of {comp_maps.layer}, not {layer}")
        sub, sub_maps = scored_composites(comps, comp_maps, chosen)
        composites = pd.DataFrame(columns=COLUMNS)
        if len(sub):
            if sub_maps is None:
                sub_maps = pointing.layer_maps(net, layer, sub, methods)
            own = {m: v for m, v in sub_maps.maps.items() if m in methods}
            images_f = sub.images.astype(np.float32)
            composites = removal_scores(
                cam, net, images_f, own, sub.classes, draws=plan.faith_draws, **at
            )
    return Study(chosen, table, setting, headline, curves, composites, sub.parts, seconds)


def record(study: Study) -> dict[str, Any]:
    """What ``report/metrics.json`` keeps of a `Study`: the rule, the held-out photographs,
    the chosen setting, and per method the headline logit drop, lead over the random maps and
    share beaten with their intervals (test images and composites), and the ROAD areas."""
    out: dict[str, Any] = {
        "rule": RULE,
        "held_out": study.held_out,
        "setting": {"imputation": study.setting.imputation, "fraction": study.setting.fraction},
        "level": LEVEL,
        "seconds": {k: round(v, 1) for k, v in study.seconds.items()},
    }
    for name, frame in (("test_images", study.headline), ("composites", study.composites)):
        if not frame.empty:
            parts = study.parts if name == "composites" else None
            table = summary(frame, study.setting.fraction, parts=parts)
            out[name] = table.round(4).to_dict(orient="index")
    out["road"] = road_area(study.curves).round(4).to_dict(orient="index")
    return out
