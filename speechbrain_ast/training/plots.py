"""Result figures: confusion matrix, per-class AP, learning curves (PNG).

Each function writes one PNG file to ``path`` (creating its folder) and
returns ``path`` as a string. Matplotlib is imported lazily, inside each
function, and used through its object-oriented API with the Agg canvas: no
``pyplot``, no global backend change, no display needed.

Authors
 * speechbrain-ast contributors 2026
"""

import logging
import math
import os

# Matplotlib logs font discovery at DEBUG level; SpeechBrain sends DEBUG to
# log.txt, where those lines would drown the run's own messages.
logging.getLogger("matplotlib").setLevel(logging.WARNING)
logging.getLogger("PIL").setLevel(logging.WARNING)

__all__ = [
    "learning_curve_panels",
    "plot_confusion_matrix",
    "plot_event_timeline",
    "plot_learning_curves",
    "plot_per_class_ap",
]


def _new_figure(width, height):
    """A matplotlib Figure attached to an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path):
    """Write ``figure`` to ``path`` (creating folders) and return the path."""
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    return path


def _as_index_list(values):
    """Class indices from a list, numpy array or tensor (1-D, or 2-D one-hot)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    import numpy as np

    values = np.asarray(values)
    if values.ndim == 2:
        values = values.argmax(axis=1)
    return values.astype(int).tolist()


def plot_confusion_matrix(targets, predictions, label_names, path, normalize=True):
    """Plot a confusion matrix (rows: true class, columns: predicted class).

    Arguments
    ---------
    targets : sequence, numpy array or torch.Tensor
        True class indices ``[N]`` (or one-hot ``[N, C]``).
    predictions : sequence, numpy array or torch.Tensor
        Predicted class indices ``[N]`` (or scores ``[N, C]``, argmax taken).
    label_names : list of str
        Class names in index order.
    path : str or os.PathLike
        Output PNG file.
    normalize : bool
        Show row-normalised rates (per true class) instead of counts.

    Returns
    -------
    str
        The path of the confusion-matrix PNG.

    Example
    -------
    >>> png = getfixture("tmpdir").join("cm.png")
    >>> out = plot_confusion_matrix([0, 1, 1], [0, 1, 0], ["dog", "cat"], png)
    >>> png.isfile(), out == png.strpath
    (True, True)
    """
    import numpy as np
    from sklearn.metrics import confusion_matrix

    n_classes = len(label_names)
    matrix = confusion_matrix(
        _as_index_list(targets),
        _as_index_list(predictions),
        labels=list(range(n_classes)),
    ).astype(float)
    if normalize:
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
    side = min(max(4.0, 0.3 * n_classes + 2.0), 40.0)
    figure = _new_figure(side + 1.0, side)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    ticks = list(range(n_classes))
    font = max(4, min(10, int(400 / max(n_classes, 1))))
    axes.set_xticks(ticks)
    axes.set_yticks(ticks)
    axes.set_xticklabels(label_names, rotation=90, fontsize=font)
    axes.set_yticklabels(label_names, fontsize=font)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("Confusion matrix" + (" (row-normalised)" if normalize else ""))
    if n_classes <= 20:
        for row in range(n_classes):
            for col in range(n_classes):
                value = matrix[row, col]
                text = f"{value:.2f}" if normalize else f"{int(value)}"
                colour = "white" if value > 0.5 * matrix.max() else "black"
                axes.text(
                    col, row, text, ha="center", va="center", fontsize=7, color=colour
                )
    return _save(figure, path)


def plot_per_class_ap(per_class_rows, path, top_n=40, which="best"):
    """Horizontal bar chart of per-class average precision.

    Arguments
    ---------
    per_class_rows : list of dict
        Rows of ``TaggingStats.per_class`` (``label``, ``AP``, ``n_positive``).
        Rows with a NaN AP (class not scorable) are skipped.
    path : str or os.PathLike
        Output PNG file.
    top_n : int
        Number of classes shown.
    which : str
        ``"best"`` (highest AP), ``"worst"`` or ``"both"`` (half each).

    Returns
    -------
    str
        The path of the bar-chart PNG.

    Raises
    ------
    ValueError
        ``which`` is not ``"best"``, ``"worst"`` or ``"both"``.

    Example
    -------
    >>> rows = [{"label": "dog", "AP": 0.9, "n_positive": 3},
    ...         {"label": "cat", "AP": 0.4, "n_positive": 2},
    ...         {"label": "cow", "AP": float("nan"), "n_positive": 0}]
    >>> png = getfixture("tmpdir").join("ap.png")
    >>> plot_per_class_ap(rows, png) == png.strpath and png.isfile()
    True
    """
    if which not in ("best", "worst", "both"):
        raise ValueError(f"which must be 'best', 'worst' or 'both', got {which!r}")
    rows = [row for row in per_class_rows if not math.isnan(float(row["AP"]))]
    rows.sort(key=lambda row: float(row["AP"]), reverse=True)
    if len(rows) > top_n:
        if which == "best":
            rows = rows[:top_n]
        elif which == "worst":
            rows = rows[-top_n:]
        else:
            rows = rows[: (top_n + 1) // 2] + rows[len(rows) - top_n // 2 :]
    labels = [f"{row['label']} ({row.get('n_positive', '?')})" for row in rows]
    values = [float(row["AP"]) for row in rows]
    figure = _new_figure(8.0, max(2.5, 0.22 * len(rows) + 1.0))
    axes = figure.add_subplot(1, 1, 1)
    positions = list(range(len(rows)))
    axes.barh(positions, values, color="tab:blue")
    axes.set_yticks(positions)
    axes.set_yticklabels(labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlim(0.0, 1.0)
    axes.set_xlabel("average precision")
    mean_ap = sum(values) / len(values) if values else float("nan")
    shown = {
        "best": f"best {len(rows)}",
        "worst": f"worst {len(rows)}",
        "both": f"best {(len(rows) + 1) // 2} and worst {len(rows) // 2}",
    }[which]
    axes.set_title(f"Per-class AP, {shown} classes (mean shown: {mean_ap:.3f})")
    axes.grid(axis="x", alpha=0.3)
    return _save(figure, path)


def plot_learning_curves(train_log_rows, path):
    """Plot per-epoch curves, one quantity per panel, over every epoch.

    Keys are grouped by the quantity they measure, whatever their prefix
    (``train_loss`` and ``valid_loss`` share the loss panel;
    ``valid_accuracy``, ``valid_cum_accuracy`` and
    ``valid_monitored_test_accuracy`` share the accuracy panel); times in
    seconds (keys ending in ``_s``) and the learning rate (``lr``, log scale)
    get panels of their own. Missing or non-numeric values are skipped.

    Arguments
    ---------
    train_log_rows : list of dict
        E.g. ``{"epoch": 1, "train_loss": 0.3, "valid_loss": 0.4,
        "valid_accuracy": 0.9, "train_step_s": 12.0}``.
    path : str or os.PathLike
        Output PNG file.

    Returns
    -------
    str
        The path of the learning-curves PNG.

    Example
    -------
    >>> rows = [{"epoch": 1, "train_loss": 0.5, "valid_mAP": 0.2, "lr": 1e-4},
    ...         {"epoch": 2, "train_loss": 0.3, "valid_mAP": 0.3, "lr": 5e-5}]
    >>> png = getfixture("tmpdir").join("lc.png")
    >>> plot_learning_curves(rows, png) == png.strpath and png.isfile()
    True
    >>> sorted(learning_curve_panels(rows))
    ['learning rate', 'loss', 'mAP']
    """
    series = {}
    for index, row in enumerate(train_log_rows):
        epoch = row.get("epoch", index + 1)
        for key, value in row.items():
            if key == "epoch":
                continue
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if math.isnan(value):
                continue
            series.setdefault(key, ([], []))
            series[key][0].append(float(epoch))
            series[key][1].append(value)
    panels = learning_curve_panels(train_log_rows)
    columns = min(3, max(len(panels), 1))
    rows_of_panels = max(1, math.ceil(len(panels) / columns))
    figure = _new_figure(5.0 * columns, 3.6 * rows_of_panels)
    if not panels:
        axes = figure.add_subplot(1, 1, 1)
        axes.set_title("no numeric values to plot")
    for position, (title, keys) in enumerate(panels.items(), start=1):
        axes = figure.add_subplot(rows_of_panels, columns, position)
        for key in keys:
            if key not in series:
                continue
            epochs, values = series[key]
            axes.plot(epochs, values, marker="o", markersize=3, label=key)
        if title == "learning rate" and all(v > 0 for k in keys for v in series[k][1]):
            axes.set_yscale("log")
        axes.set_xlabel("epoch")
        axes.set_ylabel(title)
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    return _save(figure, path)


METRIC_NAMES = ("loss", "accuracy", "mAP", "mAUC", "d_prime")


def learning_curve_panels(train_log_rows):
    """Group the numeric columns of a run history by the quantity they measure.

    Arguments
    ---------
    train_log_rows : list of dict
        Per-epoch rows.

    Returns
    -------
    dict
        Panel title -> column names, in first-seen order.

    Example
    -------
    >>> learning_curve_panels([{"epoch": 1, "train_loss": 1, "valid_cum_accuracy": 0.5,
    ...                         "train_data_wait_s": 2.0, "lr": 1e-3}])
    {'loss': ['train_loss'], 'accuracy': ['valid_cum_accuracy'], 'time (s)': ['train_data_wait_s'], 'learning rate': ['lr']}
    """
    panels = {}
    for row in train_log_rows:
        for key, value in row.items():
            if key == "epoch" or isinstance(value, (str, bool)) or value is None:
                continue
            if key == "lr":
                title = "learning rate"
            elif key.endswith("_s"):
                title = "time (s)"
            else:
                title = next((m for m in METRIC_NAMES if key.endswith(m)), key)
            keys = panels.setdefault(title, [])
            if key not in keys:
                keys.append(key)
    return panels


def plot_event_timeline(detection, path, top_n=20):
    """Plot a recording's scores over time: labels x time, score as colour.

    Rows are the ``top_n`` classes with the highest score anywhere in the
    recording (plus every class with a detected event), best at the top;
    detected events are outlined in white.

    Arguments
    ---------
    detection : speechbrain_ast.tagging.events.EventDetection
        ``frame_times``, ``frame_scores``, ``labels``, ``events`` and
        ``duration`` of one recording (``AudioTagger.detect_events``).
    path : str or os.PathLike
        Output PNG file.
    top_n : int
        Most classes shown.

    Returns
    -------
    str
        The path of the timeline PNG.

    Example
    -------
    >>> import torch
    >>> from speechbrain_ast.tagging.events import Event, EventDetection
    >>> detection = EventDetection(
    ...     "a.wav", 3.0, [Event("dog", 0.0, 1.0, 0.9)], torch.tensor([0.0, 1.0, 2.0]),
    ...     torch.tensor([[0.9, 0.1], [0.2, 0.3], [0.1, 0.2]]), ["dog", "cat"])
    >>> png = getfixture("tmpdir").join("timeline.png")
    >>> plot_event_timeline(detection, png) == png.strpath and png.isfile()
    True
    """
    from matplotlib.patches import Rectangle

    scores = detection.frame_scores.detach().float().cpu()
    peaks = scores.max(dim=0).values.tolist() if scores.numel() else []
    event_labels = {event.label for event in detection.events}
    order = sorted(range(len(detection.labels)), key=lambda i: -peaks[i])
    shown = order[:top_n] + [
        i for i in order[top_n:] if detection.labels[i] in event_labels
    ]
    times = detection.frame_times.detach().double().cpu().tolist()
    edges = times + [float(detection.duration)]
    figure = _new_figure(
        max(6.0, min(16.0, 2.0 + 0.25 * len(times))), 1.2 + 0.3 * len(shown)
    )
    axes = figure.add_subplot(1, 1, 1)
    image = axes.pcolormesh(
        edges,
        list(range(len(shown) + 1)),
        scores[:, shown].T.numpy(),
        vmin=0.0,
        vmax=1.0,
        cmap="viridis",
        shading="flat",
    )
    row_of = {detection.labels[index]: row for row, index in enumerate(shown)}
    for event in detection.events:
        axes.add_patch(
            Rectangle(
                (event.onset, row_of[event.label] + 0.05),
                event.offset - event.onset,
                0.9,
                fill=False,
                edgecolor="white",
                linewidth=1.5,
            )
        )
    axes.set_yticks([row + 0.5 for row in range(len(shown))])
    axes.set_yticklabels([detection.labels[index] for index in shown], fontsize=8)
    axes.set_ylim(len(shown), 0)
    axes.set_xlim(0.0, float(detection.duration))
    axes.set_xlabel("time (s)")
    axes.set_title(
        f"{os.path.basename(str(detection.path))}: scores per frame, "
        f"{len(detection.events)} events outlined",
        fontsize=9,
    )
    figure.colorbar(image, ax=axes, label="score")
    return _save(figure, path)
