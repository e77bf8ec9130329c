"""Reading weight files and loading them strictly.

Every pretrained source (timm file, official ``.pth``, HuggingFace folder)
is read with ``load_tensor_file`` (tensors only, never pickled code) and
loaded with ``load_state_dict_strict``, whose error lists every missing key,
unexpected key and shape mismatch.

Authors
 * speechbrain-ast contributors 2026
"""

import os

import torch

from speechbrain_ast.model import AST_SIZES

# Attention heads of the standard ViT/DeiT widths (a checkpoint file does not
# store the head count), from the one size table.
HEADS_BY_WIDTH = {width: heads for width, _, heads in AST_SIZES.values()}


def load_state_dict_strict(module, state_dict, what="checkpoint"):
    """Load ``state_dict`` into ``module``; on any mismatch raise a ValueError.

    The error lists every missing key, unexpected key and shape mismatch.

    Arguments
    ---------
    module : torch.nn.Module
        Target module.
    state_dict : dict
        Tensors by name.
    what : str
        Name of the source, for the error message.

    Returns
    -------
    torch.nn.Module
        ``module``, loaded.

    Example
    -------
    >>> lin = torch.nn.Linear(2, 3)
    >>> load_state_dict_strict(lin, {"weight": torch.zeros(3, 2)})
    Traceback (most recent call last):
    ...
    ValueError: checkpoint does not fit Linear: missing keys ['bias']
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = [
        f"{key}: checkpoint {list(state_dict[key].shape)} vs model "
        f"{list(own[key].shape)}"
        for key in sorted(set(own) & set(state_dict))
        if tuple(state_dict[key].shape) != tuple(own[key].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    if wrong:
        problems.append(f"shape mismatches {wrong}")
    if problems:
        raise ValueError(
            f"{what} does not fit {type(module).__name__}: " + "; ".join(problems)
        )
    module.load_state_dict(state_dict, strict=True)
    return module


def load_tensor_file(path):
    """Read a state dict from a ``.safetensors`` or torch file (tensors only).

    A torch file holding ``{"model": sd}`` or ``{"state_dict": sd}`` (DeiT
    and Lightning style) is unwrapped.

    Arguments
    ---------
    path : str
        The file.

    Returns
    -------
    dict
        Tensors by name (on CPU).

    Example
    -------
    >>> path = getfixture("tmpdir").join("w.pth").strpath
    >>> torch.save({"model": {"a": torch.ones(2)}}, path)
    >>> load_tensor_file(path)
    {'a': tensor([1., 1.])}
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path, device="cpu")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{path}: cannot read it as a tensors-only torch checkpoint ({err})"
        ) from err
    for wrapper in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise ValueError(f"{path}: not a state dict of tensors")
    return dict(state)
