"""Exact resumption: RNG state in checkpoints, and all-or-nothing checkpoints.

A recipe declares both in its YAML::

    checkpointer: !new:speechbrain_ast.training.resumable.ResumableCheckpointer
        checkpoints_dir: !ref <save_folder>
        recoverables:
            embedding_model: !ref <embedding_model>
            rng_state: !new:speechbrain_ast.training.resumable.RNGState

SpeechBrain restores the model, optimizer, epoch counter, step counters and the
position of a ``SaveableDataLoader`` inside an epoch, but not the random number
generators. A run resumed from an intra-epoch checkpoint (``--ckpt_interval_steps``
or ``--ckpt_interval_minutes``) therefore draws different mixup pairs,
SpecAugment masks and noise than the uninterrupted run would have. ``RNGState``
is a recoverable that saves and restores Python's ``random``, NumPy's global
generator, torch's CPU generator and, when CUDA is initialised, the CUDA
generators, for every DDP rank (gathered to the main process, one file).

SpeechBrain's ``Checkpointer`` writes a checkpoint folder in place: it creates
``CKPT+<time>/`` and writes ``CKPT.yaml`` *first*, then one file per
recoverable. A process killed in between leaves a folder that
``Checkpointer.list_checkpoints`` accepts as valid (it only checks for
``CKPT.yaml``). It is the most recent one, so the next run tries to resume from
it and fails ("missing a load path for ...", or a truncated-file error from
``torch.load``). Deleting old checkpoints (``shutil.rmtree``) has the same
problem. ``ResumableCheckpointer`` fixes both: it saves into a hidden staging
folder (``.staging-CKPT+<time>``) and renames it when every rank has written
its files, and it deletes a checkpoint by renaming it to ``.trash-...`` before
removing it. A rename is atomic, so a checkpoint folder either exists complete
or does not exist; leftovers of a killed run are removed when the next
run builds its ``ResumableCheckpointer``.
The checkpoint layout is unchanged: anything that reads SpeechBrain
checkpoints reads these.

Authors
 * speechbrain-ast contributors 2026
"""

import logging
import os
import pathlib
import random
import shutil

import numpy as np
import torch
from speechbrain.utils.checkpoints import (
    CKPT_PREFIX,
    Checkpoint,
    Checkpointer,
    ckpt_recency,
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.distributed import ddp_barrier, if_main_process

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".staging-"
TRASH_PREFIX = ".trash-"
RNG_RECOVERABLE = "rng_state"


def capture_rng_state():
    """The state of every global random number generator of this process.

    Returns
    -------
    dict
        Plain Python values and tensors (loadable with ``weights_only=True``).

    Example
    -------
    >>> state = capture_rng_state()
    >>> a = torch.rand(3), random.random(), np.random.rand()
    >>> restore_rng_state(state)
    >>> b = torch.rand(3), random.random(), np.random.rand()
    >>> bool((a[0] == b[0]).all()) and a[1:] == b[1:]
    True
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (
            kind,
            torch.from_numpy(keys.astype(np.int64)),
            pos,
            has_gauss,
            cached,
        ),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state):
    """Set the global random number generators from ``capture_rng_state()``.

    Arguments
    ---------
    state : dict
        As returned by ``capture_rng_state``.
    """
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:
            logger.warning(
                "checkpoint has CUDA RNG states for %d devices, this machine "
                "has %d: CUDA RNG not restored",
                len(cuda_states),
                torch.cuda.device_count(),
            )


def _distributed():
    return torch.distributed.is_available() and torch.distributed.is_initialized()


class RNGState:
    """Checkpoint recoverable for the global RNGs of every process.

    Declare it among the checkpointer's recoverables in the recipe YAML
    (``rng_state: !new:speechbrain_ast.training.resumable.RNGState``). Saving gathers the state of every DDP rank
    (a collective call: SpeechBrain calls checkpoint savers on every rank);
    the main process writes them to one file. Loading restores this rank's
    state. When the number of processes changed since the checkpoint was
    written, rank ``r`` takes the state of rank ``r % saved_world_size`` and
    a warning says the run is no longer an exact continuation.

    Example
    -------
    >>> path = getfixture("tmpdir").join("rng.ckpt").strpath
    >>> rng = RNGState()
    >>> rng.save(path)
    >>> a = torch.rand(2)
    >>> rng.load(path, end_of_epoch=False)
    >>> bool((torch.rand(2) == a).all())
    True
    """

    @mark_as_saver
    def save(self, path):
        """Gather every rank's RNG state; the main process writes them."""
        state = capture_rng_state()
        if _distributed():
            states = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(states, state)
        else:
            states = [state]
        if if_main_process():
            torch.save({"world_size": len(states), "states": states}, path)

    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Restore this rank's RNG state."""
        del end_of_epoch
        saved = torch.load(path, map_location="cpu", weights_only=True)
        states = saved["states"]
        rank = torch.distributed.get_rank() if _distributed() else 0
        world = torch.distributed.get_world_size() if _distributed() else 1
        if len(states) != world:
            logger.warning(
                "%s holds the RNG state of %d processes, this run has %d: "
                "rank %d continues from rank %d's state (not an exact "
                "continuation of the interrupted run)",
                path,
                len(states),
                world,
                rank,
                rank % len(states),
            )
        restore_rng_state(states[rank % len(states)])


# Savers run on every rank (they gather); SpeechBrain's default would run
# them on the main process only.
register_checkpoint_hooks(RNGState, save_on_main_only=False)


class ResumableCheckpointer(Checkpointer):
    """A ``Checkpointer`` whose checkpoints are never left half-written.

    Same arguments, layout and behaviour as SpeechBrain's ``Checkpointer``,
    except that a checkpoint is written into ``.staging-CKPT+...`` and renamed
    to ``CKPT+...`` once every process has written its files, and deleted by
    renaming it to ``.trash-CKPT+...`` first. Folders starting with a dot are
    never listed as checkpoints, so a kill at any moment leaves only complete
    checkpoints behind.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> model = torch.nn.Linear(2, 2)
    >>> ckpt = ResumableCheckpointer(tmp.strpath, {"model": model})
    >>> saved = ckpt.save_checkpoint(meta={"epoch": 1})
    >>> saved.path.name.startswith("CKPT+"), (saved.path / "model.ckpt").exists()
    (True, True)
    >>> sorted(p.name.startswith(".") for p in saved.path.parent.iterdir())
    [False]
    """

    def __init__(self, checkpoints_dir, recoverables=None, **kwargs):
        super().__init__(checkpoints_dir, recoverables, **kwargs)
        remove_incomplete_checkpoints(self.checkpoints_dir)

    def _new_checkpoint_dirpath(self):
        return self._staged(super()._new_checkpoint_dirpath())

    def _custom_checkpoint_dirpath(self, name):
        return self._staged(super()._custom_checkpoint_dirpath(name))

    def _staged(self, final):
        """Remember the final folder; return the staging folder to write."""
        staging = final.parent / (STAGING_PREFIX + final.name)
        if staging.exists():  # left over by a killed run
            shutil.rmtree(staging)
        self._final_dir = final
        return staging

    def save_checkpoint(
        self, meta={}, end_of_epoch=True, name=None, verbosity=logging.INFO
    ):
        """Save a checkpoint into a staging folder, then publish it by renaming.

        Arguments
        ---------
        meta : mapping
            Added to ``CKPT.yaml`` (use Python scalars, not numpy/torch ones).
        end_of_epoch : bool
            Whether the checkpoint is at the end of an epoch.
        name : str, optional
            Custom checkpoint name (``CKPT+<name>``); replaces an existing one.
        verbosity : int
            Logging level of the "saved" message.

        Returns
        -------
        Checkpoint
            The published checkpoint (main process), else None.
        """
        staged = super().save_checkpoint(
            meta=meta, end_of_epoch=end_of_epoch, name=name, verbosity=logging.DEBUG
        )
        # Every rank has returned from its savers: the folder is complete.
        ddp_barrier()
        if not if_main_process():
            return None
        final = self._final_dir
        if final.exists():  # a custom name being replaced
            self._remove(final)
        os.rename(staged.path, final)
        kind = "end-of-epoch" if end_of_epoch else "intra-epoch"
        logger.log(verbosity, f"Saved an {kind} checkpoint in {final}")
        paramfiles = {key: final / path.name for key, path in staged.paramfiles.items()}
        return Checkpoint(final, staged.meta, paramfiles)

    def delete_checkpoints(
        self,
        *,
        num_to_keep=1,
        min_keys=None,
        max_keys=None,
        importance_keys=[ckpt_recency],
        ckpt_predicate=None,
        verbosity=logging.INFO,
    ):
        """Delete the least important checkpoints (see ``Checkpointer``), atomically.

        Arguments
        ---------
        num_to_keep : int
            Checkpoints kept per importance order.
        min_keys, max_keys : list of str, optional
            Meta keys whose lowest / highest values are kept.
        importance_keys : list of callable
            Importance orders (default: recency).
        ckpt_predicate : callable, optional
            Only checkpoints it accepts may be deleted.
        verbosity : int
            Logging level of the "deleted" messages.
        """
        if num_to_keep < 0:
            raise ValueError("Number of checkpoints to keep must be positive.")
        keys = [{"min_key": key} for key in min_keys or []]
        keys += [{"max_key": key} for key in max_keys or []]
        # dict.fromkeys: SpeechBrain's save_and_keep_only appends ckpt_recency to
        # its (shared, mutable) default list on every call.
        keys += [{"importance_key": key} for key in dict.fromkeys(importance_keys)]
        candidates, protected = set(), set()
        for key_kwargs in keys:
            candidates.update(
                self.find_checkpoints(ckpt_predicate=ckpt_predicate, **key_kwargs)
            )
            protected.update(
                self.find_checkpoints(
                    max_num_checkpoints=num_to_keep,
                    ckpt_predicate=ckpt_predicate,
                    **key_kwargs,
                )
            )
        ddp_barrier()
        if if_main_process():
            for ckpt in candidates - protected:
                self._remove(ckpt.path)
                logger.log(verbosity, f"Deleted checkpoint in {ckpt.path}")
        ddp_barrier()

    @staticmethod
    def _remove(path):
        """Rename ``path`` out of the checkpoint namespace, then delete it."""
        path = pathlib.Path(path)
        trash = path.parent / (TRASH_PREFIX + path.name)
        if trash.exists():
            shutil.rmtree(trash)
        os.rename(path, trash)
        shutil.rmtree(trash)


def remove_incomplete_checkpoints(checkpoints_dir):
    """Delete staging and trash folders left by a killed run (main process only).

    Arguments
    ---------
    checkpoints_dir : str or pathlib.Path
        The checkpointer's folder.

    Returns
    -------
    list of str
        Names of the removed folders.
    """
    removed = []
    folder = pathlib.Path(checkpoints_dir)
    if if_main_process() and folder.is_dir():
        for path in sorted(folder.iterdir()):
            leftover = path.name.startswith((STAGING_PREFIX, TRASH_PREFIX))
            if path.is_dir() and leftover and CKPT_PREFIX in path.name:
                shutil.rmtree(path)
                removed.append(path.name)
        if removed:
            logger.warning(
                "removed incomplete checkpoint folders left by an interrupted run "
                "in %s: %s",
                folder,
                ", ".join(removed),
            )
    ddp_barrier()
    return removed


def loader_generator(seed):
    """A seeded generator for a training ``DataLoader`` (its worker seeds).

    The loader then draws from its own generator, not from the global RNG,
    so recovering a checkpoint in the middle of an epoch does not shift the
    global random stream (mixup, SpecAugment) of the resumed run.

    Arguments
    ---------
    seed : int
        The recipe's seed.

    Returns
    -------
    torch.Generator
        A CPU generator seeded with ``seed``.

    Example
    -------
    >>> loader_generator(3).initial_seed()
    3
    """
    return torch.Generator().manual_seed(int(seed))
