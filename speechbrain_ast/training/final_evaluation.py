"""What a classification recipe does after ``fit``: score, export, report.

One call, made explicitly at the end of each recipe's main block, so that
every recipe ends the same way:

1. the run-history figure (before evaluation reloads an older checkpoint);
2. the test split scored with the checkpoint of the best validation score;
3. with ``weight_averaging``: the averaged weights scored on the
   **validation** split first (what a choice between them and the best
   epoch may look at; never the test score), then on the test split;
4. ``results.json``, then the model folder (main process only) with the
   weights the run exports: the average with ``weight_averaging``, the
   best-validation checkpoint otherwise;
5. the per-class reports and figures, last: an optional step never loses
   the results or the model folder written before it.

A data set without a test split (possible in the custom-data recipe) skips
the test scores and still exports the model.

Authors
 * speechbrain-ast contributors 2026
"""

import os

from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.logger import get_logger

from speechbrain_ast.model_folder import write_model_folder
from speechbrain_ast.training.averaging import apply_weight_average
from speechbrain_ast.training.metrics import chance_level
from speechbrain_ast.training.reports import (
    plot_run_history,
    write_evaluation_reports,
    write_results_json,
)

logger = get_logger(__name__)

__all__ = ["evaluate_and_export"]


def evaluate_and_export(
    brain,
    datasets,
    label_names,
    *,
    main_metric,
    multi_label,
    history,
    loader_options,
    weight_averaging,
    wa_epochs,
    modules,
    norm_stats,
    sample_rate,
    output_folder,
    model_folder,
    results=None,
    normalization="dataset",
):
    """Score the finished run, write ``results.json``, the model folder, the reports.

    The recipe passes every setting by name (``hparams["..."]``), so that
    its script shows which YAML keys the end of the run reads.

    Arguments
    ---------
    brain : ShardedEvaluationBrain
        The fitted Brain; its final ``evaluate`` sets ``test_stats`` and
        ``test_scores``.
    datasets : dict
        ``{"valid", "test"}`` datasets of the recipe's ``dataio_prep``.
    label_names : list of str
        Class names in output order.
    main_metric : str
        The checkpoint key that selects the best epoch ("accuracy", "mAP").
    multi_label : bool
        Sigmoid scores and mAP (True) or softmax and accuracy (False).
    history : RunHistory
        The run's per-epoch record (plotted before evaluation reloads an
        older checkpoint with a shorter history; its rows are the whole
        run's again on return).
    loader_options : dict
        Data-loader options of the evaluations.
    weight_averaging : bool
        Also score, and export, the average of the epochs in ``wa_epochs``.
    wa_epochs : tuple of int
        ``(wa_start, wa_end)``.
    modules : dict
        ``{"embedding_model": ..., "classifier": ...}``: averaged and exported.
    norm_stats : tuple of float
        ``(norm_mean, norm_std)`` of the fbank normalisation.
    normalization : str
        Its kind: ``"dataset"`` (those statistics) or ``"clip"``.
    sample_rate : int
        The model's sample rate.
    output_folder, model_folder : str
        Where ``results.json``/reports go, and the exported model folder.
    results : dict, optional
        Entries to write into ``results.json`` beside the scores.

    Returns
    -------
    dict
        What ``results.json`` holds: ``best_valid`` (test scores of the
        best-validation checkpoint), ``chosen_epoch`` (its epoch),
        ``n_classes``, ``chance`` (``metrics.chance_level`` of the test set),
        ``wa_valid`` and ``wa`` with weight averaging, and the entries of
        ``results``.
    """
    plot_run_history(history.rows, output_folder)
    # Evaluating reloads the chosen checkpoint, and with it that epoch's
    # shorter history; the rows of every epoch are put back at the end, so
    # that what reads them next (summary.md) sees the whole run.
    epoch_rows = list(history.rows)
    results, evaluated = dict(results or {}), {}
    has_test = len(datasets["test"]) > 0

    def score(split, key, name):
        brain.evaluation_set = split
        brain.evaluate(datasets[split], max_key=key, test_loader_kwargs=loader_options)
        brain.evaluation_set = "test"
        results[name] = brain.test_stats
        if split == "test":
            evaluated[f"test_{name}"] = brain.test_scores

    if has_test:
        score("test", main_metric, "best_valid")
        # The epoch of the checkpoint just scored, and what chance would score.
        results["chosen_epoch"] = int(brain.hparams.epoch_counter.current)
        results["n_classes"] = len(label_names)
        results["chance"] = chance_level(
            evaluated["test_best_valid"].target_matrix(), multi_label
        )
    else:
        logger.info("the data has no test split: the model is exported without a test score")
    if weight_averaging:
        wa_key = apply_weight_average(brain.checkpointer, *wa_epochs, modules)
        score("valid", wa_key, "wa_valid")
        if has_test:
            score("test", wa_key, "wa")
    elif not has_test:
        brain.checkpointer.recover_if_possible(max_key=main_metric)

    write_results_json(os.path.join(output_folder, "results.json"), results)
    run_on_main(
        write_model_folder,
        kwargs={
            "out_dir": model_folder,
            "encoder": modules["embedding_model"],
            "head": modules["classifier"],
            "labels": label_names,
            "norm_mean": norm_stats[0],
            "norm_std": norm_stats[1],
            "normalization": normalization,
            "multi_label": multi_label,
            "sample_rate": sample_rate,
            "origin": "trained by {}, {} weights".format(
                os.path.basename(output_folder.rstrip("/")),
                "weight-averaged" if weight_averaging else "best-validation",
            ),
        },
    )
    history.rows = epoch_rows
    for name, scores in evaluated.items():
        write_evaluation_reports(scores, label_names, multi_label, output_folder, name)
    return results
