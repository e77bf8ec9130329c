"""The experiment sequence every AST recipe runs, written once.

``run_experiment`` builds the ``ASTBrain``, trains with validation-based
checkpoint selection, evaluates the test set with the best-validation
checkpoint and, when configured, with the weight average (WA) of a range of
epochs, then exports a model folder that SpeechBrain's ``EncoderClassifier``
and our ``AudioTagger`` load. Results go to ``<output_folder>/results.json``.

Hyperparameters read: ``init``, ``init_source``, ``init_format``, ``modules``, ``opt_class``, ``checkpointer``,
``epoch_counter``, ``train_dataloader_options``, ``valid_dataloader_options``,
``embedding_model``, ``classifier``, ``mean_var_norm``, ``sample_rate``,
``multi_label``, ``label_names``, ``output_folder``, ``model_folder``, and
optional ``weight_averaging`` (bool) with ``wa_start``/``wa_end`` epochs,
``monitor_test`` (bool: report the test metric each epoch, never used for
selection), ``seed``.

Resumption is exact: the checkpointer is made all-or-nothing and saves the
RNG state (``speechbrain_ast.rng.make_resumable``), and the training loader
draws its worker seeds from its own generator rather than from the global RNG
(so recovering mid-epoch does not shift the global stream). A training set
that is a ``speechbrain_ast.shards.ShardDataset`` is streamed through a
resumable ``ShardLoader``.

Authors
 * speechbrain-ast contributors 2026
"""

import json
import logging
import os

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_ast.averaging import average_checkpoints_by_epoch
from speechbrain_ast.brain import ASTBrain
from speechbrain_ast.dataio import build_datasets, read_classes
from speechbrain_ast.initialization import initialize_encoder
from speechbrain_ast.model_folder import write_model_folder
from speechbrain_ast.rng import make_resumable
from speechbrain_ast.shards import ShardDataset, attach_to_brain

logger = logging.getLogger(__name__)


def setup_experiment(argv):
    """The start of every recipe: parse the command line, set up DDP, load the
    YAML with its overrides, and create the experiment folder.

    Arguments
    ---------
    argv : list of str
        ``sys.argv[1:]``: the hparams file, run options and overrides.

    Returns
    -------
    tuple
        ``(hparams, run_opts)``.
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    return hparams, run_opts


def load_datasets(hparams, splits=("train", "valid", "test")):
    """Read ``classes.txt`` and the split manifests written by a prepare script.

    Sets ``hparams["label_names"]`` and checks that the classifier size
    (``n_classes``) matches the classes found in the data.

    Arguments
    ---------
    hparams : dict
        Needs ``save_folder``, ``n_classes`` and ``sample_rate``.
    splits : tuple of str
        Manifests ``<save_folder>/<split>.csv`` to load.

    Returns
    -------
    dict
        Split name -> dataset.
    """
    folder = hparams["save_folder"]
    classes = read_classes(os.path.join(folder, "classes.txt"))
    if len(classes) != hparams["n_classes"]:
        raise ValueError(
            f"the data has {len(classes)} classes but the model is built for "
            f"n_classes={hparams['n_classes']}; pass --n_classes {len(classes)}"
        )
    hparams["label_names"] = classes
    manifests = {split: os.path.join(folder, f"{split}.csv") for split in splits}
    return build_datasets(manifests, classes, hparams["sample_rate"])


def run_experiment(hparams, run_opts, datasets, train_sampler=None):
    """Train, select on validation, evaluate on test, export a model folder.

    Arguments
    ---------
    hparams : dict
        Loaded recipe hyperparameters (see module docstring).
    run_opts : dict
        SpeechBrain run options (device, precision, debug, DDP...).
    datasets : dict
        ``train``, ``valid`` and ``test`` datasets (``speechbrain_ast.dataio``;
        ``train`` may be a ``speechbrain_ast.shards.ShardDataset``).
    train_sampler : torch.utils.data.Sampler, optional
        E.g. the balanced AudioSet sampler; replaces shuffling.

    Returns
    -------
    dict
        Test metrics per evaluated model (``best_valid``, and ``wa``).
    """
    initialize_encoder(
        hparams["embedding_model"],
        hparams["init"],
        hparams.get("init_source"),
        hparams.get("init_format", "official"),
    )
    make_resumable(hparams["checkpointer"])
    brain = ASTBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    train_set = datasets["train"]
    train_kwargs = dict(hparams["train_dataloader_options"])
    if isinstance(train_set, ShardDataset):
        if train_sampler is not None:
            raise ValueError("a shard stream samples itself: pass no train_sampler")
        train_set = attach_to_brain(train_set, brain, train_kwargs)
    else:
        # Worker seeds from the loader's own generator, not the global RNG.
        generator = torch.Generator().manual_seed(int(hparams.get("seed", 0)))
        train_kwargs.setdefault("generator", generator)
    if train_sampler is not None:
        train_kwargs.pop("shuffle", None)
        train_kwargs["sampler"] = train_sampler
        # Brain only calls set_epoch on samplers it knows about (outside DDP).
        brain.train_sampler = train_sampler
    valid_kwargs = hparams["valid_dataloader_options"]
    brain.eval_loader_kwargs = valid_kwargs
    if hparams.get("monitor_test", False):
        brain.monitor_set = datasets["test"]

    brain.fit(
        hparams["epoch_counter"],
        train_set,
        datasets["valid"],
        train_loader_kwargs=train_kwargs,
        valid_loader_kwargs=valid_kwargs,
    )
    brain.monitor_set = None

    results = {}
    rows = brain.run_history.rows
    cum_key = f"valid_monitored_test_cum_{brain.main_metric}"
    if rows and cum_key in rows[-1]:
        # Checkpoint ensemble of every epoch on the test set (paper's "cum").
        results["checkpoint_ensemble_all_epochs"] = {
            brain.main_metric: rows[-1][cum_key],
            "epochs": len(brain.run_history.test_ensemble),
        }
    brain.eval_name = "test_best_valid"
    brain.evaluate(datasets["test"], max_key=brain.main_metric, test_loader_kwargs=valid_kwargs)
    results["best_valid"] = brain.test_results

    if hparams.get("weight_averaging", False) and not brain.debug:
        averaged = average_checkpoints_by_epoch(
            brain.checkpointer,
            hparams["wa_start"],
            hparams["wa_end"],
            ["embedding_model", "classifier"],
        )
        for name, state in averaged.items():
            hparams[name].load_state_dict(state)
        brain.keep_current_weights = True
        brain.eval_name = "test_wa"
        brain.evaluate(datasets["test"], test_loader_kwargs=valid_kwargs)
        results["wa"] = brain.test_results

    run_on_main(export_model, args=[hparams])
    if if_main_process():
        path = os.path.join(hparams["output_folder"], "results.json")
        with open(path + ".tmp", "w") as handle:
            json.dump(results, handle, indent=2)
        os.replace(path + ".tmp", path)
        logger.info("test results: %s", json.dumps(results))
    return results


def export_model(hparams):
    """Write the current encoder/classifier weights as a model folder.

    Arguments
    ---------
    hparams : dict
        Recipe hyperparameters (see module docstring).
    """
    norm = hparams["mean_var_norm"]
    write_model_folder(
        hparams["model_folder"],
        hparams["embedding_model"],
        hparams["classifier"],
        hparams["label_names"],
        norm.mean.item(),
        norm.std.item(),
        hparams["multi_label"],
        sample_rate=hparams["sample_rate"],
        origin=f"trained by {os.path.basename(hparams['output_folder'].rstrip('/'))}",
    )
    logger.info("model folder written to %s", hparams["model_folder"])
