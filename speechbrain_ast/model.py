"""The Audio Spectrogram Transformer (AST) encoder and its classification head.

AST (Gong, Chung, Glass, "AST: Audio Spectrogram Transformer", Interspeech
2021) cuts a log-mel spectrogram into overlapping 16x16 patches, embeds them
with a convolution, prepends one (ViT) or two (DeiT: cls + distillation)
prefix tokens and runs a pre-norm ViT. The pooled embedding is the mean of the
prefix tokens after the final LayerNorm.

Patchout (PaSST: Koutini, Schlüter, Eghbal-zadeh, Widmer, "Efficient Training
of Audio Transformers with Patchout", Interspeech 2022) is an option of the
encoder: in training only, whole time columns and frequency rows of patch
tokens (and optionally random single tokens) are left out after the
positional embedding is added, so the transformer runs on fewer tokens.

Parameter names follow timm's ViT/DeiT (``patch_embed.proj``, ``cls_token``,
``dist_token``, ``pos_embed``, ``blocks.N.{norm1,attn.qkv,attn.proj,norm2,
mlp.fc1,mlp.fc2}``, ``norm``), which are also the names inside the official AST
checkpoints (``module.v.*``), so weights map by name.

One file for one lobe, as timm's ``vision_transformer.py``: the patch
embedding, attention, block, patchout and pooling are the encoder's parts,
and ``speechbrain_ast.model.*`` is what every YAML and saved model folder
names, so the module is longer than 500 lines rather than split.

Authors
 * speechbrain-ast contributors 2026
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

# (embed_dim, depth, num_heads) of the standard ViT/DeiT sizes: the paper's
# backbones are tiny, small and base; large and huge are ViT's bigger ones.
# The one size table: checkpoint readers take the head count of a width here.
AST_SIZES = {
    "tiny": (192, 12, 3),
    "small": (384, 12, 6),
    "base": (768, 12, 12),
    "large": (1024, 24, 16),
    "huge": (1280, 32, 16),
}


def patch_shape(patch_size):
    """Return ``(height, width)`` of a patch: frequency bins x frames.

    Arguments
    ---------
    patch_size : int or sequence of two ints
        A square side (16: the paper's 16x16 patches) or ``(frequency, time)``
        (``(128, 2)``: SSAST's frame patches, one token per 2 frames).

    Returns
    -------
    tuple of int
        ``(frequency, time)`` extent of one patch.

    Example
    -------
    >>> patch_shape(16)
    (16, 16)
    >>> patch_shape([128, 2])
    (128, 2)
    """
    if isinstance(patch_size, int):
        shape = (patch_size, patch_size)
    else:
        shape = tuple(int(side) for side in patch_size)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(
            f"patch_size must be a positive int or (frequency, time), got {patch_size}"
        )
    return shape


def patch_grid(n_mels, n_frames, fstride, tstride, patch_size=16):
    """Return ``(f_dim, t_dim)``: the patch grid of a ``[n_frames, n_mels]`` input.

    Arguments
    ---------
    n_mels : int
        Number of mel bins (image height).
    n_frames : int
        Number of frames (image width).
    fstride, tstride : int
        Patch strides along frequency and time.
    patch_size : int or sequence of two ints
        Patch side, or ``(frequency, time)`` extent (see ``patch_shape``).

    Returns
    -------
    tuple of int
        Number of patch rows (frequency) and columns (time).

    Example
    -------
    >>> patch_grid(128, 1024, 10, 10)
    (12, 101)
    >>> patch_grid(128, 128, 10, 10)
    (12, 12)
    >>> patch_grid(128, 1024, 128, 2, patch_size=(128, 2))  # frame patches
    (1, 512)
    """
    height, width = patch_shape(patch_size)
    if n_mels < height or n_frames < width:
        raise ValueError(
            f"input of {n_frames} frames x {n_mels} mel bins is smaller than "
            f"one {height}x{width} patch"
        )
    return (n_mels - height) // fstride + 1, (n_frames - width) // tstride + 1


def patchout(tokens, f_dim, t_dim, drop_freq=0, drop_time=0, token_drop=0.0):
    """Leave out patch tokens: whole rows/columns of the grid, then single tokens.

    Structured patchout removes ``drop_freq`` frequency rows and ``drop_time``
    time columns of the ``f_dim x t_dim`` patch grid, the same ones for the
    whole batch (as PaSST), so the result is still a grid. Unstructured
    dropping then keeps a random ``1 - token_drop`` share of the remaining
    tokens of each clip. Kept tokens stay in their original order. The random
    choices come from the global torch RNG on the CPU, so they follow
    ``torch.manual_seed`` and are the same on every device (and are saved with
    the RNG state of a resumable checkpoint).

    Arguments
    ---------
    tokens : torch.Tensor
        Patch tokens ``[B, f_dim * t_dim, D]``, frequency-major.
    f_dim, t_dim : int
        Patch grid (frequency rows, time columns).
    drop_freq, drop_time : int
        Number of frequency rows and time columns to leave out.
    token_drop : float
        Share of the remaining tokens to leave out, per clip, in [0, 1).

    Returns
    -------
    torch.Tensor
        The kept tokens ``[B, n_kept, D]``.

    Example
    -------
    >>> grid = torch.arange(12.0).reshape(1, 12, 1)  # a 3 x 4 grid
    >>> _ = torch.manual_seed(0)
    >>> patchout(grid, 3, 4, drop_freq=1, drop_time=2).shape
    torch.Size([1, 4, 1])
    >>> patchout(grid, 3, 4, token_drop=0.5).shape
    torch.Size([1, 6, 1])
    """
    batch, n_tokens, dim = tokens.shape
    if n_tokens != f_dim * t_dim:
        raise ValueError(f"{n_tokens} tokens do not form a {f_dim} x {t_dim} grid")
    if drop_freq or drop_time:
        rows = torch.randperm(f_dim)[: f_dim - drop_freq].sort().values
        cols = torch.randperm(t_dim)[: t_dim - drop_time].sort().values
        kept = (rows[:, None] * t_dim + cols[None, :]).flatten()
        tokens = tokens[:, kept.to(tokens.device)]
    if token_drop > 0:
        n_kept = max(1, round(tokens.shape[1] * (1.0 - token_drop)))
        order = torch.rand(batch, tokens.shape[1]).argsort(dim=1)
        kept = order[:, :n_kept].sort(dim=1).values.to(tokens.device)
        tokens = tokens.gather(1, kept.unsqueeze(-1).expand(-1, -1, dim))
    return tokens


class PatchEmbed(nn.Module):
    """Overlapping patch embedding: a 1-channel strided convolution.

    Arguments
    ---------
    embed_dim : int
        Output channels (token width).
    patch_size : int or sequence of two ints
        Kernel size: a square side or ``(frequency, time)``.
    fstride, tstride : int
        Strides along frequency (height) and time (width).

    Example
    -------
    >>> embed = PatchEmbed(192, 16, 10, 10)
    >>> embed(torch.randn(2, 1, 128, 128)).shape
    torch.Size([2, 144, 192])
    >>> PatchEmbed(192, (128, 2), 128, 2)(torch.randn(2, 1, 128, 128)).shape
    torch.Size([2, 64, 192])
    """

    def __init__(self, embed_dim, patch_size=16, fstride=10, tstride=10):
        super().__init__()
        self.proj = nn.Conv2d(
            1, embed_dim, patch_shape(patch_size), stride=(fstride, tstride)
        )

    def forward(self, x):
        """Embed ``[B, 1, F, T]`` into frequency-major tokens ``[B, f*t, D]``."""
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection and SDPA.

    Arguments
    ---------
    dim : int
        Token width.
    num_heads : int
        Number of heads.
    qkv_bias : bool
        Bias on the qkv projection.
    attn_drop : float
        Dropout on attention probabilities (training only).
    proj_drop : float
        Dropout after the output projection.

    Example
    -------
    >>> attn = Attention(64, 4)
    >>> attn(torch.randn(2, 10, 64)).shape
    torch.Size([2, 10, 64])
    """

    def __init__(self, dim, num_heads, qkv_bias=True, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x):
        """Attend over ``[B, N, D]`` tokens."""
        batch, n_tokens, dim = x.shape
        qkv = self.qkv(x).reshape(
            batch, n_tokens, 3, self.num_heads, dim // self.num_heads
        )
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0
        )
        x = x.transpose(1, 2).reshape(batch, n_tokens, dim)
        return self.proj_drop(self.proj(x))


class Mlp(nn.Module):
    """Two-layer feed-forward network with GELU (timm naming: fc1, fc2).

    Arguments
    ---------
    dim : int
        Token width.
    hidden_dim : int
        Hidden width.
    drop : float
        Dropout after each linear layer.

    Example
    -------
    >>> Mlp(8, 32)(torch.randn(1, 3, 8)).shape
    torch.Size([1, 3, 8])
    """

    def __init__(self, dim, hidden_dim, drop=0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        """Apply the MLP to ``[..., dim]``."""
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample (training only).

    Arguments
    ---------
    drop_prob : float
        Probability of dropping the branch.

    Example
    -------
    >>> DropPath(0.5).eval()(torch.ones(2, 3)).sum().item()
    6.0
    """

    def __init__(self, drop_prob=0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        """Zero the branch for a random subset of samples, rescaling the rest."""
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, ``x + mlp(norm2(x))``.

    Arguments
    ---------
    dim : int
        Token width.
    num_heads : int
        Attention heads.
    mlp_ratio : float
        MLP hidden width relative to ``dim``.
    qkv_bias : bool
        Bias on the qkv projection.
    layer_norm_eps : float
        LayerNorm epsilon (timm/official 1e-6, HuggingFace 1e-12).
    drop, attn_drop, drop_path : float
        Dropout, attention dropout and stochastic-depth rates.

    Example
    -------
    >>> Block(64, 4)(torch.randn(2, 5, 64)).shape
    torch.Size([2, 5, 64])
    """

    def __init__(
        self,
        dim,
        num_heads,
        mlp_ratio=4.0,
        qkv_bias=True,
        layer_norm_eps=1e-6,
        drop=0.0,
        attn_drop=0.0,
        drop_path=0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.norm2 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        """Run the block on ``[B, N, D]``."""
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class AudioSpectrogramTransformer(nn.Module):
    """The AST encoder: fbank ``[B, T, F]`` -> pooled embedding ``[B, 1, D]``.

    The spectrogram is seen as an image with frequency as height and time as
    width; patch tokens are ordered frequency-major (index ``f * t_dim + t``).
    The pooled embedding is the mean of the prefix tokens (cls, plus dist for
    DeiT) after the final LayerNorm, as in the paper and the official code.

    Input length: the model is built for ``n_frames`` frames. A shorter input
    is padded at the end with ``pad_value`` and a longer one is cut at the end,
    exactly as the official pipeline pads/cuts the fbank before normalising.
    The official pipeline pads the *raw* fbank with 0, which after
    ``(x - mean) / (2 * std)`` is ``-mean / (2 * std)``; pass that as
    ``pad_value`` when feeding normalised features (the recipes do).
    ``lengths`` is accepted for SpeechBrain compatibility; AST attends over
    the padding like the official model, so it does not change the output.

    Arguments
    ---------
    n_mels : int
        Mel bins per frame (F).
    n_frames : int
        Frames per input (T): 1024 for 10 s AudioSet, 512 ESC-50, 128 Speech
        Commands.
    fstride, tstride : int
        Patch strides along frequency and time (10 in the paper).
    patch_size : int or sequence of two ints
        Patch side (16 in the paper), or ``(frequency, time)``: ``(128, 2)``
        with ``fstride=128, tstride=2`` gives SSAST's frame patches, one token
        per 2 frames, which the paper (Table 6) finds better from scratch.
    embed_dim, depth, num_heads : int
        Transformer width, number of blocks and heads (see ``AST_SIZES``).
    mlp_ratio : float
        MLP hidden width relative to ``embed_dim``.
    num_prefix_tokens : int
        2 for DeiT-distilled backbones (cls + dist, the paper), 1 for ViT.
    layer_norm_eps : float
        Epsilon of every encoder LayerNorm (1e-6 timm/official, 1e-12 HF).
    qkv_bias : bool
        Bias on the qkv projections.
    drop_rate, attn_drop_rate, drop_path_rate : float
        Dropout, attention dropout and (linearly increasing) stochastic depth.
        All 0 in the paper.
    pad_value : float
        Value used to pad inputs shorter than ``n_frames``.
    activation_checkpointing : bool
        Recompute block activations in the backward pass to save memory.
    patchout_freq, patchout_time : int
        Structured patchout (PaSST): frequency rows and time columns of the
        patch grid left out in each training batch (0: off). PaSST's setting
        for 10 s AudioSet clips is 4 rows and 40 columns. Evaluation always
        sees every token.
    token_drop : float
        Unstructured patchout: share of the (remaining) patch tokens left out
        per clip in training, in [0, 1) (0: off).
    pooling : str
        How ``forward`` pools tokens into one embedding: ``"prefix"``, the
        mean of the prefix tokens (the paper), or ``"patches"``, the mean of
        the patch-token outputs (SSAST's fine-tuning choice; it does not rely
        on a prefix token that a small model trained from scratch has to learn
        to use).

    Example
    -------
    >>> model = AudioSpectrogramTransformer(
    ...     n_frames=128, embed_dim=64, depth=2, num_heads=4
    ... )
    >>> fbank = torch.randn(3, 128, 128)
    >>> model(fbank).shape
    torch.Size([3, 1, 64])
    >>> model.forward_features(fbank).shape  # 2 prefix + 12 x 12 patches
    torch.Size([3, 146, 64])
    >>> model.patchout_time = 4  # training only: 2 prefix + 12 x 8 patches
    >>> model.train().forward_features(fbank).shape
    torch.Size([3, 98, 64])
    """

    def __init__(
        self,
        n_mels=128,
        n_frames=1024,
        fstride=10,
        tstride=10,
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        mlp_ratio=4.0,
        num_prefix_tokens=2,
        layer_norm_eps=1e-6,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.0,
        pad_value=0.0,
        activation_checkpointing=False,
        patchout_freq=0,
        patchout_time=0,
        token_drop=0.0,
        pooling="prefix",
    ):
        super().__init__()
        # Constructor arguments, so model folders can rebuild this model.
        self.config = {
            key: value
            for key, value in locals().items()
            if key not in ("self", "__class__")
        }
        if num_prefix_tokens not in (1, 2):
            raise ValueError("num_prefix_tokens must be 1 (ViT) or 2 (DeiT)")
        if pooling not in ("prefix", "patches"):
            raise ValueError(f"pooling must be 'prefix' or 'patches', got {pooling!r}")
        self.pooling = pooling
        self.n_mels = n_mels
        self.n_frames = n_frames
        self.fstride = fstride
        self.tstride = tstride
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.num_prefix_tokens = num_prefix_tokens
        self.pad_value = pad_value
        self.activation_checkpointing = activation_checkpointing
        self.f_dim, self.t_dim = patch_grid(
            n_mels, n_frames, fstride, tstride, patch_size
        )
        self.patchout_freq = patchout_freq
        self.patchout_time = patchout_time
        self.token_drop = token_drop
        self.check_patchout()

        self.patch_embed = PatchEmbed(embed_dim, patch_size, fstride, tstride)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if num_prefix_tokens == 2:
            self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_patches + num_prefix_tokens, embed_dim)
        )
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(
            Block(
                embed_dim,
                num_heads,
                mlp_ratio,
                qkv_bias,
                layer_norm_eps,
                drop_rate,
                attn_drop_rate,
                rate,
            )
            for rate in rates
        )
        self.norm = nn.LayerNorm(embed_dim, eps=layer_norm_eps)
        self.reset_parameters()

    @property
    def num_patches(self):
        """Number of patch tokens (``f_dim * t_dim``)."""
        return self.f_dim * self.t_dim

    def reset_parameters(self):
        """Random initialisation as timm's ViT (trunc-normal 0.02 tokens/linears)."""
        for token in (self.pos_embed, self.cls_token, self.prefix_token(1)):
            if token is not None:
                nn.init.trunc_normal_(token, std=0.02)
        for module in self.blocks.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def check_patchout(self):
        """Raise if the patchout settings would leave no token of the grid."""
        for name, dropped, size in (
            ("patchout_freq", self.patchout_freq, self.f_dim),
            ("patchout_time", self.patchout_time, self.t_dim),
        ):
            if not 0 <= dropped < size:
                raise ValueError(
                    f"{name}={dropped} must be in [0, {size}): the patch grid of "
                    f"this model is {self.f_dim} x {self.t_dim} (frequency x time)"
                )
        if not 0.0 <= self.token_drop < 1.0:
            raise ValueError(f"token_drop={self.token_drop} must be in [0, 1)")

    @property
    def patchout_active(self):
        """True when this forward pass leaves tokens out (training with patchout)."""
        return self.training and bool(
            self.patchout_freq or self.patchout_time or self.token_drop
        )

    def prefix_token(self, index):
        """Return prefix token ``index`` (0: cls, 1: dist) or None if absent."""
        return self.cls_token if index == 0 else getattr(self, "dist_token", None)

    def fit_length(self, fbank):
        """Pad (with ``pad_value``) or cut ``[B, T, F]`` at the end to ``n_frames``.

        Arguments
        ---------
        fbank : torch.Tensor
            Features ``[B, T, F]``.

        Returns
        -------
        torch.Tensor
            Features ``[B, n_frames, F]``.
        """
        if fbank.ndim != 3 or fbank.shape[-1] != self.n_mels:
            raise ValueError(
                f"AST expects features [batch, frames, {self.n_mels}], "
                f"got {list(fbank.shape)}"
            )
        n_missing = self.n_frames - fbank.shape[1]
        if n_missing > 0:
            return F.pad(fbank, (0, 0, 0, n_missing), value=self.pad_value)
        return fbank[:, : self.n_frames]

    def forward_features(
        self, fbank, lengths=None, token_mask=None, mask_embedding=None
    ):
        """Return every token output after the final norm.

        Arguments
        ---------
        fbank : torch.Tensor
            Normalised features ``[B, T, F]``.
        lengths : torch.Tensor, optional
            Relative lengths (unused: AST attends over padding, see class doc).
        token_mask : torch.Tensor, optional
            Boolean ``[B, f_dim * t_dim]`` (frequency-major): the patch
            embeddings where it is True are replaced by ``mask_embedding``
            before the positional embedding is added (SSAST's masked patch
            modelling, ``speechbrain_ast.masked_patch``). Not combinable with
            patchout.
        mask_embedding : torch.Tensor, optional
            The learned ``[D]`` embedding of a masked patch; needed with
            ``token_mask``.

        Returns
        -------
        torch.Tensor
            ``[B, num_prefix_tokens + f_dim * t_dim, D]``; prefix tokens first,
            then patches in frequency-major order. In training with patchout,
            only the kept patches (fewer tokens).

        Example
        -------
        >>> model = AudioSpectrogramTransformer(
        ...     n_frames=32, fstride=16, tstride=16, embed_dim=8, depth=1, num_heads=2
        ... )
        >>> mask = torch.zeros(1, 16, dtype=torch.bool)  # an 8 x 2 patch grid
        >>> mask[0, [0, 15]] = True
        >>> model.forward_features(
        ...     torch.randn(1, 32, 128), token_mask=mask, mask_embedding=torch.zeros(8)
        ... ).shape
        torch.Size([1, 18, 8])
        """
        x = self.fit_length(fbank).unsqueeze(1).transpose(2, 3)
        n_prefix = self.num_prefix_tokens
        x = self.patch_embed(x)
        if token_mask is not None:
            x = self.replace_masked(x, token_mask, mask_embedding)
        # Positions are added before patchout, so kept tokens keep their own.
        x = x + self.pos_embed[:, n_prefix:]
        if self.patchout_active:
            self.check_patchout()
            x = patchout(
                x,
                self.f_dim,
                self.t_dim,
                self.patchout_freq,
                self.patchout_time,
                self.token_drop,
            )
        prefix = [self.cls_token] + ([self.dist_token] if n_prefix == 2 else [])
        prefix = torch.cat(prefix, dim=1) + self.pos_embed[:, :n_prefix]
        x = torch.cat([prefix.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.pos_drop(x)
        for block in self.blocks:
            if self.activation_checkpointing and self.training:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.norm(x)

    def replace_masked(self, patches, token_mask, mask_embedding):
        """Put ``mask_embedding`` in place of the masked patch embeddings.

        Arguments
        ---------
        patches : torch.Tensor
            Patch embeddings ``[B, f_dim * t_dim, D]`` (before positions).
        token_mask : torch.Tensor
            Boolean ``[B, f_dim * t_dim]``; True where a patch is masked.
        mask_embedding : torch.Tensor
            ``[D]`` embedding of a masked patch.

        Returns
        -------
        torch.Tensor
            ``[B, f_dim * t_dim, D]``.
        """
        if mask_embedding is None:
            raise ValueError("token_mask needs a mask_embedding of shape [embed_dim]")
        if self.patchout_active:
            raise ValueError(
                "token_mask cannot be combined with patchout: set patchout_freq, "
                "patchout_time and token_drop to 0"
            )
        if tuple(token_mask.shape) != tuple(patches.shape[:2]):
            raise ValueError(
                f"token_mask of shape {list(token_mask.shape)} does not fit "
                f"{patches.shape[0]} clips x {patches.shape[1]} patches"
            )
        mask_embedding = mask_embedding.reshape(-1).to(patches.dtype)
        return torch.where(token_mask.unsqueeze(-1), mask_embedding, patches)

    def forward(self, fbank, lengths=None):
        """Return the pooled embedding ``[B, 1, D]`` (see ``pooling``).

        Arguments
        ---------
        fbank : torch.Tensor
            Normalised features ``[B, T, F]``.
        lengths : torch.Tensor, optional
            Relative lengths (unused, see class doc).

        Returns
        -------
        torch.Tensor
            Pooled embedding ``[B, 1, D]``.
        """
        tokens = self.forward_features(fbank, lengths)
        if self.pooling == "patches":
            return tokens[:, self.num_prefix_tokens :].mean(dim=1, keepdim=True)
        return tokens[:, : self.num_prefix_tokens].mean(dim=1, keepdim=True)

    def patch_tokens(self, fbank, lengths=None):
        """Return patch outputs as a grid ``[B, f_dim, t_dim, D]`` (for embeddings).

        Arguments
        ---------
        fbank : torch.Tensor
            Normalised features ``[B, T, F]``.
        lengths : torch.Tensor, optional
            Relative lengths (unused).

        Returns
        -------
        torch.Tensor
            Patch token outputs arranged by (frequency, time).
        """
        if self.patchout_active:
            raise RuntimeError(
                "patch_tokens needs the whole patch grid: call eval() first "
                "(patchout leaves tokens out in training)"
            )
        tokens = self.forward_features(fbank, lengths)[:, self.num_prefix_tokens :]
        return tokens.reshape(tokens.shape[0], self.f_dim, self.t_dim, -1)

    def extra_repr(self):
        """Summarise the input geometry."""
        return (
            f"n_mels={self.n_mels}, n_frames={self.n_frames}, "
            f"patch={patch_shape(self.patch_size)}, "
            f"stride=({self.fstride}, {self.tstride}), "
            f"grid={self.f_dim}x{self.t_dim}, prefix={self.num_prefix_tokens}, "
            f"pooling={self.pooling}"
            + (
                f", patchout=(freq {self.patchout_freq}, time {self.patchout_time}, "
                f"tokens {self.token_drop})"
                if self.patchout_freq or self.patchout_time or self.token_drop
                else ""
            )
        )


class ClassificationHead(nn.Module):
    """LayerNorm + Linear on the pooled embedding, as the official ``mlp_head``.

    Arguments
    ---------
    embed_dim : int
        Embedding width.
    n_classes : int
        Number of outputs (logits).
    layer_norm_eps : float
        LayerNorm epsilon (official 1e-5; HuggingFace uses its config's eps).

    Example
    -------
    >>> head = ClassificationHead(64, 10)
    >>> head(torch.randn(3, 1, 64)).shape
    torch.Size([3, 1, 10])
    """

    def __init__(self, embed_dim, n_classes, layer_norm_eps=1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(embed_dim, eps=layer_norm_eps)
        # PyTorch's default Linear init, like the official head (not timm's).
        self.linear = nn.Linear(embed_dim, n_classes)

    def forward(self, embedding):
        """Map ``[B, 1, D]`` (or ``[B, D]``) embeddings to logits of the same rank."""
        return self.linear(self.norm(embedding))
