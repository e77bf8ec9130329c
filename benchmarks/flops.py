"""Analytic FLOP counts of an AST forward pass (for throughput and MFU figures).

One multiply-add counts as 2 FLOPs. For ``N`` tokens of width ``D`` and an MLP
of ``r * D`` hidden units, one pre-norm block costs

* linear layers: ``2 N D^2 (4 + 2 r)`` (qkv ``3``, output projection ``1``,
  MLP ``2 r``), i.e. ``24 N D^2`` for the usual ``r = 4``;
* attention: ``4 N^2 D`` (``Q K^T`` and ``softmax(.) V``).

The patch embedding adds ``2 P k^2 D`` for ``P`` patches of ``k x k`` pixels
(one input channel) and the head ``2 D C``. LayerNorms, GELU, softmax and
residual additions are ignored (well under 1 % for AST). A training step
(forward + backward) is counted as 3 forwards, the usual convention for model
FLOP utilisation (MFU): recomputation by activation checkpointing is not model
work and is not counted.

For AST-base (``D = 768``, 12 blocks) this gives 261, 116 and 25.6 GFLOP for
the 10 s, 5 s and 1 s inputs (1214, 602 and 146 tokens).

Authors
 * speechbrain-ast contributors 2026
"""

from speechbrain_ast.model import AST_SIZES, patch_grid, patch_shape


def block_flops(n_tokens, embed_dim, mlp_ratio=4.0):
    """FLOPs of one transformer block on ``n_tokens`` tokens (one clip).

    Arguments
    ---------
    n_tokens : int
        Sequence length, prefix tokens included.
    embed_dim : int
        Token width ``D``.
    mlp_ratio : float
        MLP hidden width relative to ``D``.

    Returns
    -------
    int
        Multiply-adds times 2.

    Example
    -------
    >>> block_flops(10, 8) == 24 * 10 * 8**2 + 4 * 10**2 * 8
    True
    """
    hidden = int(embed_dim * mlp_ratio)
    linear = 2 * n_tokens * (4 * embed_dim * embed_dim + 2 * embed_dim * hidden)
    attention = 4 * n_tokens * n_tokens * embed_dim
    return linear + attention


def ast_forward_flops(
    n_frames=1024,
    n_mels=128,
    embed_dim=768,
    depth=12,
    fstride=10,
    tstride=10,
    patch_size=16,
    mlp_ratio=4.0,
    num_prefix_tokens=2,
    n_classes=0,
):
    """FLOPs of an AST forward pass for one clip (patch embedding to head).

    Arguments
    ---------
    n_frames, n_mels : int
        Input size (frames x mel bins).
    embed_dim, depth : int
        Width and number of blocks.
    fstride, tstride : int
        Patch strides.
    patch_size : int or sequence of two ints
        Patch side, or ``(frequency, time)``.
    mlp_ratio : float
        MLP hidden width relative to ``embed_dim``.
    num_prefix_tokens : int
        2 (cls + dist, DeiT) or 1.
    n_classes : int
        Outputs of the classification head (0: encoder only).

    Returns
    -------
    int
        FLOPs per clip.

    Example
    -------
    >>> round(ast_forward_flops(1024) / 1e9)  # AST-base, 10 s
    261
    >>> round(ast_forward_flops(512) / 1e9), round(ast_forward_flops(128) / 1e9)
    (116, 26)
    """
    f_dim, t_dim = patch_grid(n_mels, n_frames, fstride, tstride, patch_size)
    n_patches = f_dim * t_dim
    n_tokens = n_patches + num_prefix_tokens
    height, width = patch_shape(patch_size)
    patch = 2 * n_patches * height * width * embed_dim
    head = 2 * embed_dim * n_classes
    return patch + depth * block_flops(n_tokens, embed_dim, mlp_ratio) + head


def size_flops(size, n_frames, **kwargs):
    """``ast_forward_flops`` for a named size of ``AST_SIZES`` ("tiny", "small", "base").

    Arguments
    ---------
    size : str
        Key of ``speechbrain_ast.model.AST_SIZES``.
    n_frames : int
        Input frames.
    **kwargs : dict
        Other arguments of ``ast_forward_flops``.

    Returns
    -------
    int
        FLOPs per clip.

    Example
    -------
    >>> round(size_flops("tiny", 1024) / 1e9, 1)
    26.6
    """
    embed_dim, depth, _ = AST_SIZES[size]
    return ast_forward_flops(n_frames, embed_dim=embed_dim, depth=depth, **kwargs)


def training_flops(forward_flops):
    """Model FLOPs of one training step: forward + backward = 3 forwards.

    Arguments
    ---------
    forward_flops : int
        FLOPs of the forward pass.

    Returns
    -------
    int
        ``3 * forward_flops``.

    Example
    -------
    >>> training_flops(2)
    6
    """
    return 3 * forward_flops
