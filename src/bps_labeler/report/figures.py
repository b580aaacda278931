"""The pictures of the Snakemake report: learning curve, embedding map, picks, left-out images,
confusion matrices.

What Lightly's web app showed in the old tutorial, drawn offline with matplotlib as PNG files the
report embeds (no script, nothing fetched when the report is opened).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from bps_labeler.selection.thresholds import passes_threshold  # noqa: E402

#: t-SNE above this many images would take minutes; a seeded sample is drawn instead (the picks
#: always included).
MAP_MAX_POINTS = 5000


def learning_curve_figure(curve: pd.DataFrame, out: Path) -> None:
    """Balanced accuracy and AUROC by number of labels, undecided and all images, beside baselines."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    x = curve["n_labels"]
    for ax, subset, title in (
        (axes[0], "undecided", "undecided images (where the condition does not decide)"),
        (axes[1], "overall", "all validation images"),
    ):
        ax.plot(x, curve[f"{subset}_model_balanced_accuracy"], "o-", label="model, balanced accuracy")
        ax.plot(x, curve[f"{subset}_model_auroc"], "s--", label="model, AUROC")
        if subset == "overall":
            ax.plot(x, curve["overall_model_and_rule_balanced_accuracy"], "o-", label="rule + model (the answer)")
        ax.plot(x, curve[f"{subset}_metadata_rule_balanced_accuracy"], "k:", label="metadata rule")
        ax.plot(x, curve[f"{subset}_majority_balanced_accuracy"], ":", color="grey", label="majority class")
        for n, r in zip(x, curve["round"]):
            ax.annotate(f"round {r}", (n, 0.42), ha="center", fontsize=8, color="grey")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("human labels")
        ax.set_ylim(0.4, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("score on the validation images")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def confusion_figure(metrics: dict, out: Path) -> None:
    """A round's confusion matrices beside the rule's, with the labels it was trained on.

    Three panels: the model where the condition does not decide (where it has to earn its
    place), the pipeline's answer on all validation images, and the metadata rule on all of them.
    Rows are the true class, columns the answer; the counts are written in the cells.
    """
    categories = list(metrics.get("categories") or ["track", "no track"])
    base = metrics["baselines"]
    panels = [
        ("model, undecided images", base["undecided"]["model"]),
        ("rule + model (the answer), all images", base["overall"]["model_and_rule"]),
        ("metadata rule, all images", base["overall"]["metadata_rule"]),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for ax, (title, block) in zip(axes, panels):
        cm = np.asarray(block["confusion_matrix"])
        ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(1, cm.max()))
        for (i, j), n in np.ndenumerate(cm):
            ax.text(j, i, str(n), ha="center", va="center", color="white" if n > cm.max() / 2 else "black")
        ax.set_xticks(range(len(categories)), categories)
        ax.set_yticks(range(len(categories)), categories)
        ax.set_xlabel("answer")
        ax.set_title(f"{title}\nbalanced accuracy {block['balanced_accuracy']:.3f}", fontsize=9)
    axes[0].set_ylabel("true label")
    counts = ", ".join(f"{n} {c}" for c, n in (metrics.get("labels_per_class") or {}).items())
    fig.suptitle(
        f"Round {metrics['round']}: {metrics['n_labels']} human labels ({counts}); "
        f"{base['overall']['n_val']} validation images, {base['undecided']['n_val']} undecided",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def map_coordinates(names: list[str], embeddings: np.ndarray, keep: set[str], seed: int) -> pd.DataFrame:
    """Two-dimensional t-SNE coordinates of (a sample of) the pool, indexed by file name."""
    idx = np.arange(len(names))
    if len(names) > MAP_MAX_POINTS:
        must = np.array([i for i, n in enumerate(names) if n in keep], dtype=int)
        rest = np.setdiff1d(idx, must)
        rng = np.random.default_rng(seed)
        extra = rng.choice(rest, max(0, MAP_MAX_POINTS - len(must)), replace=False)
        idx = np.sort(np.concatenate([must, extra]))
    x = embeddings[idx]
    x = PCA(n_components=min(30, x.shape[1], len(x)), random_state=seed).fit_transform(x)
    xy = TSNE(
        n_components=2, perplexity=min(30.0, max(2.0, (len(x) - 1) / 3)), init="pca", random_state=seed
    ).fit_transform(x)
    return pd.DataFrame(xy, columns=["x", "y"], index=[names[i] for i in idx])


def embedding_map_figure(
    coords: pd.DataFrame,
    picked_round: dict[str, int],
    labels: dict[str, str],
    particle: pd.Series,
    uncertainty: pd.Series | None,
    round_: int,
    out: Path,
    categories: tuple[str, ...] = ("track", "no track"),
) -> None:
    """The pool in two dimensions, four ways: round picked, label, particle type, model uncertainty.

    Labels are coloured in the order of `categories` (the positive class red), whatever they are
    called.
    """
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.6))
    names = list(coords.index)
    xy = coords.to_numpy()
    base = {"s": 8, "linewidths": 0}

    ax = axes[0]
    ax.scatter(xy[:, 0], xy[:, 1], color="#d0d0d0", label="not picked", **base)
    rounds = sorted(set(picked_round.values()))
    cmap = plt.get_cmap("viridis", max(2, len(rounds)))
    for k, r in enumerate(rounds):
        mask = np.array([picked_round.get(n) == r for n in names])
        ax.scatter(
            xy[mask, 0], xy[mask, 1], color=cmap(k), s=24, edgecolors="black", linewidths=0.4, label=f"round {r}"
        )
    ax.set_title(f"picked, rounds 1-{round_}")
    ax.legend(fontsize=7, markerscale=1.5)

    ax = axes[1]
    palette = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
    colours = {c: palette[i % len(palette)] for i, c in enumerate(categories)}
    mask = np.array([n not in labels for n in names])
    ax.scatter(xy[mask, 0], xy[mask, 1], color="#d0d0d0", label="unlabeled", **base)
    for label, colour in colours.items():
        mask = np.array([labels.get(n) == label for n in names])
        ax.scatter(xy[mask, 0], xy[mask, 1], color=colour, s=14, linewidths=0, label=label)
    ax.set_title("labels (people's and the rule's)")
    ax.legend(fontsize=7, markerscale=1.5)

    ax = axes[2]
    types = particle.reindex(names).fillna("?")
    for k, t in enumerate(sorted(set(types))):
        mask = (types == t).to_numpy()
        ax.scatter(xy[mask, 0], xy[mask, 1], color=plt.get_cmap("tab10")(k), label=str(t), **base)
    ax.set_title("particle type")
    ax.legend(fontsize=7, markerscale=2)

    ax = axes[3]
    if uncertainty is None:
        ax.scatter(xy[:, 0], xy[:, 1], color="#d0d0d0", **base)
        ax.set_title("model uncertainty: no model before round 1's")
    else:
        sc = ax.scatter(
            xy[:, 0], xy[:, 1], c=uncertainty.reindex(names).to_numpy(), cmap="magma", vmin=0, vmax=1, **base
        )
        fig.colorbar(sc, ax=ax, fraction=0.046, label="entropy")
        ax.set_title(f"uncertainty of the round-{round_} model")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def gallery_figure(items: list[dict], image_dir: Path, title: str, out: Path, columns: int = 10) -> None:
    """Thumbnails with a caption each (file name, condition, label, the model's guess, the score)."""
    n = max(1, len(items))
    rows = (n + columns - 1) // columns
    height = rows * 2.6 + 1.2  # inches: 2.6 a row of thumbnails and captions, 1.2 for the title
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.8, height), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, item in zip(axes.ravel(), items):
        with Image.open(image_dir / item["filename"]) as im:
            ax.imshow(np.asarray(im.convert("L").resize((96, 96))), cmap="gray", vmin=0, vmax=255)
        ax.set_title("\n".join(item["caption"]), fontsize=6)
    if not items:
        axes[0, 0].text(0, 0.5, "none", fontsize=10)
    fig.suptitle(title, fontsize=11, y=1 - 0.15 / height)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 1.1 / height, hspace=0.75, wspace=0.08)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def disagreement_items(reports: list[tuple[str, dict]]) -> tuple[list[dict], list[str]]:
    """Gallery items of the images on which labelers differ, each person's answer in the caption,
    and a line per pair of labelers with its Cohen's kappa; from (set, annotation_report) pairs."""
    items, kappas = [], []
    for where, report in reports:
        agreed = report.get("agreement") or {}
        where = where.replace("_", " ")
        for d in agreed.get("disagreements", []):
            name = d["filename"]
            answers = [f"{who}: {said}" for who, said in d["answers"].items()]
            caption = [name.split("-")[-1].removesuffix(".jpg").removesuffix("_proj"), where, *answers]
            items.append({"filename": name, "caption": [*caption, f"kept: {d['chosen']}"]})
        for p in agreed.get("pairs", []):
            if p["cohen_kappa"] is not None:
                kappas.append(f"{where}: {' and '.join(p['labelers'])} kappa {p['cohen_kappa']:.2f} on {p['n_images']}")
    return items, kappas


def left_out(metadata: pd.DataFrame, config: dict) -> list[tuple[str, str]]:
    """(file name, reason) of the pool images the round's quality THRESHOLDs left out."""
    out: list[tuple[str, str]] = []
    for item in config["strategies"]:
        strat = item["strategy"]
        if strat["type"] != "THRESHOLD" or item["input"]["type"] != "METADATA":
            continue
        key = item["input"]["key"]
        values = metadata[key].astype(float)
        keep = passes_threshold(strat, values.to_numpy())
        for name, value in values[~keep].items():
            out.append((name, f"{key} {value:.3g}, not {strat['operation']} {strat['threshold']:g}"))
    return out


def readout_figure(table: pd.DataFrame, positive: str, out: Path) -> None:
    """Per condition: the share called `positive` (open) and corrected, with its 95 % interval;
    conditions the metadata answers are grey, with no interval."""
    labels = [f"{r.particle_type} {r.dose_Gy:g} Gy {r.hr_post_exposure} h (n={r.n_images})" for r in table.itertuples()]
    y = np.arange(len(table))[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(table) + 1.5))
    model = table["answered_by"] != "condition"
    ax.scatter(table["share_called"], y, facecolors="none", edgecolors="grey", label=f"called {positive}")
    m = model.to_numpy()
    corrected = table["share_corrected"].to_numpy(dtype=float)
    err = np.vstack(
        [corrected - table["ci_low"].to_numpy(dtype=float), table["ci_high"].to_numpy(dtype=float) - corrected]
    )
    ax.errorbar(
        corrected[m], y[m], xerr=err[:, m], fmt="o", color="tab:red", capsize=3, label="corrected, 95 % interval"
    )
    ax.scatter(corrected[~m], y[~m], marker="s", color="lightgrey", label="answered by the condition")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(f"share of nuclei with a {positive}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
