"""SpeechBrain run options made safe before a recipe trains.

Three traps of speechbrain 1.1.2's run options, closed here:

* ``--max_grad_norm`` with a negative value is documented as "disable
  clipping", but the value goes to ``torch.nn.utils.clip_grad_norm_``, which
  then scales every gradient by a negative factor: training goes uphill with
  no error. A negative value is refused; ``inf`` (``.inf`` in YAML) disables
  clipping exactly (the scale factor is clamped to 1).
* Options whose default is ``None`` (``--optimizer_step_limit 200``) reach
  the Brain as strings, and ``fit`` fails comparing an int with a str. They
  are cast to the type SpeechBrain declares for them.
* The official AST trains under fp16 autocast with a GradScaler on GPU. A
  YAML's ``cuda_precision`` gives the precision used when the run is on CUDA
  and neither the command line nor the YAML's ``precision`` chose one; CPU
  runs stay fp32.

Authors
 * speechbrain-ast contributors 2026
"""

import dataclasses
import typing

import torch
from speechbrain.utils.run_opts import RunOptions

__all__ = ["checked_run_options"]


def _declared_type(annotation):
    """``int`` or ``float`` for ``int``/``float``/``Optional[...]`` annotations."""
    if annotation in (int, float):
        return annotation
    arguments = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if len(arguments) == 1 and arguments[0] in (int, float):
        return arguments[0]
    return None


def checked_run_options(run_opts, hparams, cuda_precision=None):
    """Cast numeric run options, refuse a negative ``max_grad_norm``, set the precision.

    Arguments
    ---------
    run_opts : speechbrain.utils.run_opts.RunOptions
        As returned by ``speechbrain.parse_arguments``.
    hparams : dict
        The loaded YAML (run options may be set there too).
    cuda_precision : str, optional
        ``fp32``, ``fp16`` or ``bf16``: the precision of a CUDA run that did
        not choose one (``--precision`` and a YAML ``precision`` win).

    Returns
    -------
    RunOptions
        The checked options (a new object: ``RunOptions`` is frozen).

    Raises
    ------
    ValueError
        A negative ``max_grad_norm``, or a numeric option that is not a number.

    Example
    -------
    >>> import speechbrain as sb
    >>> _, run_opts, _ = sb.parse_arguments(["x.yaml", "--optimizer_step_limit", "200"])
    >>> checked_run_options(run_opts, {}).optimizer_step_limit
    200
    >>> _, run_opts, _ = sb.parse_arguments(["x.yaml", "--max_grad_norm", "-1"])
    >>> checked_run_options(run_opts, {})
    Traceback (most recent call last):
    ...
    ValueError: max_grad_norm=-1.0 (command line): a negative value does not disable ...
    >>> run_opts = sb.parse_arguments(["x.yaml"])[1]
    >>> checked_run_options(run_opts, {"max_grad_norm": float("inf")}) == run_opts
    True
    """
    changes = {}
    for field in dataclasses.fields(RunOptions):
        kind = _declared_type(field.type)
        value = getattr(run_opts, field.name)
        if kind is not None and isinstance(value, str):
            try:
                changes[field.name] = kind(value)
            except ValueError:
                name = "an integer" if kind is int else "a number"
                raise ValueError(
                    f"--{field.name}: expected {name}, got {value!r}"
                ) from None

    given = set(run_opts.overridden_args)
    if "max_grad_norm" in given:
        norm, where = run_opts.max_grad_norm, "command line"
    else:
        norm, where = hparams.get("max_grad_norm", run_opts.max_grad_norm), "YAML"
    if float(norm) < 0:
        raise ValueError(
            f"max_grad_norm={float(norm)} ({where}): a negative value does not "
            "disable clipping in SpeechBrain 1.1.2, it flips the gradient's sign; "
            "use inf (.inf in a YAML) for no clipping"
        )

    device = run_opts.device if "device" in given else hparams.get("device")
    on_cuda = torch.cuda.is_available() and (
        device is None or str(device).startswith("cuda")
    )
    if (
        cuda_precision
        and on_cuda
        and "precision" not in given
        and "precision" not in hparams
    ):
        changes["precision"] = cuda_precision
        given.add("precision")
    return dataclasses.replace(run_opts, **changes, overridden_args=given)
