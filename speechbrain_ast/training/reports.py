"""What a finished run leaves for people: results.json, per-class tables, figures.

The order matters: a recipe writes ``results.json`` and its model folder
first, then calls :func:`write_evaluation_reports` and
:func:`plot_run_history`; a figure that fails (a matplotlib problem, a full
disk) is logged as a warning and never costs the run its results.

Authors
 * speechbrain-ast contributors 2026
"""

import json
import logging
import os

from speechbrain.utils.distributed import if_main_process

from speechbrain_ast.files import atomic_write

logger = logging.getLogger(__name__)


def write_results_json(path, results):
    """Write the test results of a run (main process only, atomically).

    Arguments
    ---------
    path : str
        Usually ``<output_folder>/results.json``.
    results : dict
        Evaluated model name -> metric dict.

    Example
    -------
    >>> path = getfixture("tmpdir").join("results.json").strpath
    >>> write_results_json(path, {"best_valid": {"accuracy": 0.5}})
    >>> json.load(open(path))
    {'best_valid': {'accuracy': 0.5}}
    """
    if not if_main_process():
        return
    with atomic_write(path) as handle:
        json.dump(results, handle, indent=2)
    logger.info("test results: %s", json.dumps(results))


def optional_step(description, function, *args, **kwargs):
    """Run an optional reporting step; log a warning instead of failing.

    Arguments
    ---------
    description : str
        What the step makes, for the warning.
    function : callable
        The step.
    *args, **kwargs
        Passed to ``function``.

    Returns
    -------
    object
        What ``function`` returned, or None when it failed.

    Example
    -------
    >>> optional_step("a figure", lambda: 1 / 0) is None
    True
    """
    try:
        return function(*args, **kwargs)
    except Exception as error:  # an optional report never stops a run
        logger.warning(
            "could not write %s: %s: %s", description, type(error).__name__, error
        )
        return None


def write_evaluation_reports(stats, label_names, multi_label, folder, name):
    """Per-class CSV and figure of one evaluated model (main process only).

    Writes ``<name>_per_class.csv`` and ``<name>_confusion_matrix.png``
    (single-label) or ``<name>_per_class_ap.png`` (multi-label); each is
    optional (see :func:`optional_step`).

    Arguments
    ---------
    stats : TaggingStats
        Scores and targets of the evaluated set.
    label_names : list of str
        Class names in output order.
    multi_label : bool
        Multi-label tagging (AP per class) or classification (confusion).
    folder : str
        Output folder.
    name : str
        Evaluated model, e.g. ``"test_best_valid"``.

    Example
    -------
    >>> import torch
    >>> from speechbrain_ast.training.metrics import TaggingStats
    >>> stats = TaggingStats()
    >>> stats.append(["a", "b"], torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.eye(2))
    >>> tmp = getfixture("tmpdir")
    >>> write_evaluation_reports(stats, ["dog", "cat"], False, tmp.strpath, "test")
    >>> sorted(p.basename for p in tmp.listdir())
    ['test_confusion_matrix.png', 'test_per_class.csv']
    """
    if not if_main_process():
        return
    from speechbrain_ast.training.plots import plot_confusion_matrix, plot_per_class_ap

    optional_step(
        f"{name}_per_class.csv",
        stats.write_per_class_csv,
        os.path.join(folder, f"{name}_per_class.csv"),
        label_names,
    )
    if multi_label:
        optional_step(
            f"{name}_per_class_ap.png",
            plot_per_class_ap,
            stats.per_class(label_names),
            os.path.join(folder, f"{name}_per_class_ap.png"),
        )
    else:
        optional_step(
            f"{name}_confusion_matrix.png",
            plot_confusion_matrix,
            stats.target_matrix().argmax(-1).tolist(),
            stats.score_matrix().argmax(-1).tolist(),
            label_names,
            os.path.join(folder, f"{name}_confusion_matrix.png"),
        )


def plot_run_history(rows, folder):
    """Draw ``learning_curves.png`` from every epoch of a run (optional step).

    Call it right after ``brain.fit``: evaluating later reloads the selected
    checkpoint, whose history ends at the selected epoch.

    Arguments
    ---------
    rows : list of dict
        ``RunHistory.rows``.
    folder : str
        Output folder.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> plot_run_history([{"epoch": 1, "train_loss": 1.0}], tmp.strpath)
    >>> tmp.join("learning_curves.png").isfile()
    True
    """
    if not if_main_process() or not rows:
        return
    from speechbrain_ast.training.plots import plot_learning_curves

    optional_step(
        "learning_curves.png",
        plot_learning_curves,
        rows,
        os.path.join(folder, "learning_curves.png"),
    )
