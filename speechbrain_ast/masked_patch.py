"""Masked patch modelling: SSAST's self-supervised pretraining of the encoder.

SSAST (Gong, Lai, Chung, Glass, "SSAST: Self-Supervised Audio Spectrogram
Transformer", AAAI 2022) pretrains the AST encoder on unlabeled audio. Some
patch positions of each clip are masked: their patch embeddings are replaced
by one learned mask embedding before the positional embedding is added. Two
small heads read the encoder outputs at the masked positions:

* discriminative (InfoNCE): each prediction must pick its own patch among
  all masked patches of the clip (the dot products are the logits);
* generative: mean squared error of the reconstructed patch.

The loss is ``nce + gen_weight * mse`` (SSAST: ``gen_weight = 10``). The
targets are the normalised fbank cut into the encoder's patches, in the
encoder's frequency-major token order.

Masking follows SSAST: random positions for frame patches (a 1 x t grid), or
clusters of neighbouring patches (squares of 3 to 5 patches a side) for
16 x 16 patches, so that a masked patch cannot be guessed from its
neighbours alone. The random choices come from the global torch RNG on the
CPU (saved with a resumable checkpoint's RNG state), or from a given
generator (a fixed validation mask).

Authors
 * speechbrain-ast contributors 2026
"""

import torch
import torch.nn.functional as F
from torch import nn

from speechbrain_ast.model import patch_shape

MASKING_CHOICES = ("random", "cluster")


def unfold_patches(fbank, patch_size, fstride, tstride):
    """Cut a spectrogram into patches, in the encoder's token order.

    Arguments
    ---------
    fbank : torch.Tensor
        Features ``[B, T, F]`` (time, then frequency).
    patch_size : int or sequence of two ints
        Patch side, or ``(frequency, time)`` extent.
    fstride, tstride : int
        Patch strides along frequency and time.

    Returns
    -------
    torch.Tensor
        ``[B, f_dim * t_dim, patch_f * patch_t]``, frequency-major (token
        ``f * t_dim + t``), each patch flattened frequency-major.

    Example
    -------
    >>> fbank = torch.arange(8.0).reshape(1, 4, 2)  # 4 frames x 2 bins
    >>> unfold_patches(fbank, (2, 2), 2, 2)  # bins (0, 1) at frames (0, 1), ...
    tensor([[[0., 2., 1., 3.],
             [4., 6., 5., 7.]]])
    >>> unfold_patches(torch.randn(2, 512, 128), 16, 16, 16).shape
    torch.Size([2, 256, 256])
    """
    image = fbank.transpose(1, 2).unsqueeze(1)  # [B, 1, F, T]
    columns = F.unfold(image, patch_shape(patch_size), stride=(fstride, tstride))
    return columns.transpose(1, 2)


def random_mask(batch, n_tokens, n_masked, generator=None):
    """Boolean mask of ``n_masked`` random positions per clip.

    Arguments
    ---------
    batch : int
        Number of clips.
    n_tokens : int
        Patch positions per clip.
    n_masked : int
        Positions masked per clip.
    generator : torch.Generator, optional
        CPU generator (default: the global RNG).

    Returns
    -------
    torch.Tensor
        Boolean ``[batch, n_tokens]`` with ``n_masked`` True per row.

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> random_mask(3, 10, 4).sum(dim=1)
    tensor([4, 4, 4])
    """
    check_mask_count(n_tokens, n_masked)
    order = torch.rand(batch, n_tokens, generator=generator).argsort(dim=1)
    mask = torch.zeros(batch, n_tokens, dtype=torch.bool)
    mask.scatter_(1, order[:, :n_masked], True)
    return mask


def cluster_mask(batch, f_dim, t_dim, n_masked, min_side=3, n_sides=3, generator=None):
    """Boolean mask of ``n_masked`` positions per clip, in square clusters.

    Per clip, one side ``s`` is drawn in ``[min_side, min_side + n_sides)``;
    squares of ``s x s`` patches (cut at the grid's edges) at random corners
    are masked until ``n_masked`` positions are covered; the last square is
    only partly used, so every clip has exactly ``n_masked`` positions.

    Arguments
    ---------
    batch : int
        Number of clips.
    f_dim, t_dim : int
        Patch grid (frequency rows, time columns).
    n_masked : int
        Positions masked per clip.
    min_side, n_sides : int
        Square sides are drawn from ``min_side .. min_side + n_sides - 1``
        (SSAST: 3 to 5).
    generator : torch.Generator, optional
        CPU generator (default: the global RNG).

    Returns
    -------
    torch.Tensor
        Boolean ``[batch, f_dim * t_dim]`` (frequency-major), ``n_masked``
        True per row.

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> mask = cluster_mask(2, 8, 32, 100)
    >>> mask.sum(dim=1)
    tensor([100, 100])
    """
    check_mask_count(f_dim * t_dim, n_masked)
    if min_side < 1 or n_sides < 1:
        raise ValueError(
            f"need min_side >= 1 and n_sides >= 1, got {min_side}, {n_sides}"
        )
    mask = torch.zeros(batch, f_dim, t_dim, dtype=torch.bool)
    for clip in range(batch):
        side = min_side + int(torch.randint(n_sides, (1,), generator=generator))
        covered = 0
        while covered < n_masked:
            top = int(torch.randint(f_dim, (1,), generator=generator))
            left = int(torch.randint(t_dim, (1,), generator=generator))
            square = torch.zeros(f_dim, t_dim, dtype=torch.bool)
            square[top : top + side, left : left + side] = True
            new = (square & ~mask[clip]).flatten().nonzero().flatten()
            # The last square only adds what is still missing.
            new = new[: n_masked - covered]
            mask[clip].view(-1)[new] = True
            covered += len(new)
    return mask.flatten(1)


def check_mask_count(n_tokens, n_masked):
    """Raise unless ``1 <= n_masked <= n_tokens``.

    Arguments
    ---------
    n_tokens : int
        Patch positions per clip.
    n_masked : int
        Positions to mask.

    Example
    -------
    >>> check_mask_count(256, 300)
    Traceback (most recent call last):
    ...
    ValueError: n_masked=300 must be in [1, 256], the number of patch positions
    """
    if not 1 <= n_masked <= n_tokens:
        raise ValueError(
            f"n_masked={n_masked} must be in [1, {n_tokens}], the number of "
            "patch positions"
        )


def info_nce(predictions, targets):
    """InfoNCE over the masked patches of each clip, and its accuracy.

    Prediction ``i`` of a clip scores every masked patch ``j`` of the same
    clip by the dot product; the right answer is ``j = i``.

    Arguments
    ---------
    predictions : torch.Tensor
        ``[B, M, P]`` head outputs at the masked positions.
    targets : torch.Tensor
        ``[B, M, P]`` the masked patches, same order.

    Returns
    -------
    tuple of torch.Tensor
        ``(loss, accuracy)``: mean cross-entropy and share of predictions
        whose best-scoring patch is their own.

    Example
    -------
    >>> patches = torch.eye(4).unsqueeze(0)
    >>> loss, accuracy = info_nce(10 * patches, patches)
    >>> round(loss.item(), 4), accuracy.item()
    (0.0001, 1.0)
    """
    logits = torch.bmm(predictions, targets.transpose(1, 2)).float()
    labels = torch.arange(logits.shape[1], device=logits.device)
    labels = labels.expand(logits.shape[0], -1)
    loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
    accuracy = (logits.argmax(dim=-1) == labels).float().mean()
    return loss, accuracy


class MaskedPatchModel(nn.Module):
    """An AST encoder with SSAST's mask embedding and prediction heads.

    Arguments
    ---------
    encoder : AudioSpectrogramTransformer
        The encoder to pretrain (no patchout).
    n_masked : int
        Patch positions masked per clip (SSAST: 400 of the 512 patches of a
        10 s clip).
    masking : str
        ``"random"`` positions (SSAST's frame patches) or ``"cluster"``
        (squares of neighbouring patches, SSAST's 16 x 16 patches).
    gen_weight : float
        Weight of the reconstruction MSE in the loss (SSAST: 10).
    min_cluster_side, n_cluster_sides : int
        Cluster squares have sides ``min_cluster_side`` to
        ``min_cluster_side + n_cluster_sides - 1`` patches (SSAST: 3 to 5).

    Example
    -------
    >>> from speechbrain_ast.model import AudioSpectrogramTransformer
    >>> encoder = AudioSpectrogramTransformer(
    ...     n_frames=64, patch_size=(128, 2), fstride=128, tstride=2,
    ...     embed_dim=32, depth=1, num_heads=2,
    ... )
    >>> model = MaskedPatchModel(encoder, n_masked=10)
    >>> _ = torch.manual_seed(0)
    >>> out = model(torch.randn(2, 64, 128))
    >>> sorted(out)
    ['accuracy', 'info_nce', 'loss', 'mse']
    >>> bool(out["loss"] > 0)
    True
    """

    def __init__(
        self,
        encoder,
        n_masked,
        masking="random",
        gen_weight=10.0,
        min_cluster_side=3,
        n_cluster_sides=3,
    ):
        super().__init__()
        if masking not in MASKING_CHOICES:
            raise ValueError(
                f"masking must be one of {MASKING_CHOICES}, got {masking!r}"
            )
        check_mask_count(encoder.num_patches, n_masked)
        self.encoder = encoder
        self.n_masked = n_masked
        self.masking = masking
        self.gen_weight = gen_weight
        self.min_cluster_side = min_cluster_side
        self.n_cluster_sides = n_cluster_sides
        dim = encoder.embed_dim
        height, width = patch_shape(encoder.patch_size)
        self.mask_embedding = nn.Parameter(torch.zeros(dim))
        nn.init.xavier_normal_(self.mask_embedding.view(1, -1))
        self.discriminative_head = prediction_head(dim, height * width)
        self.generative_head = prediction_head(dim, height * width)

    def sample_mask(self, batch, generator=None):
        """Draw the boolean ``[batch, num_patches]`` mask of one batch.

        Arguments
        ---------
        batch : int
            Number of clips.
        generator : torch.Generator, optional
            CPU generator (default: the global RNG).

        Returns
        -------
        torch.Tensor
            Boolean mask, ``n_masked`` True per row.
        """
        encoder = self.encoder
        if self.masking == "random":
            return random_mask(batch, encoder.num_patches, self.n_masked, generator)
        return cluster_mask(
            batch,
            encoder.f_dim,
            encoder.t_dim,
            self.n_masked,
            self.min_cluster_side,
            self.n_cluster_sides,
            generator,
        )

    def target_patches(self, fbank):
        """The encoder's patches of ``fbank`` (padded/cut to its length).

        Arguments
        ---------
        fbank : torch.Tensor
            Normalised features ``[B, T, F]``.

        Returns
        -------
        torch.Tensor
            ``[B, num_patches, patch_f * patch_t]``.
        """
        encoder = self.encoder
        return unfold_patches(
            encoder.fit_length(fbank),
            encoder.patch_size,
            encoder.fstride,
            encoder.tstride,
        )

    def forward(self, fbank, generator=None, token_mask=None):
        """Mask, encode, predict the masked patches; return the losses.

        Arguments
        ---------
        fbank : torch.Tensor
            Normalised features ``[B, T, F]``.
        generator : torch.Generator, optional
            CPU generator of the mask (default: the global RNG).
        token_mask : torch.Tensor, optional
            A given boolean ``[B, num_patches]`` mask with ``n_masked`` True
            per row, instead of a drawn one.

        Returns
        -------
        dict
            ``loss`` (``info_nce + gen_weight * mse``), ``info_nce``, ``mse`` and
            ``accuracy`` (of the InfoNCE choice), each a scalar tensor.
        """
        targets = self.target_patches(fbank)
        batch = targets.shape[0]
        if token_mask is None:
            token_mask = self.sample_mask(batch, generator)
        token_mask = token_mask.to(fbank.device)
        counts = token_mask.sum(dim=1)
        if bool((counts != self.n_masked).any()):
            raise ValueError(
                f"every clip needs {self.n_masked} masked positions, got "
                f"{counts.tolist()}"
            )
        tokens = self.encoder.forward_features(
            fbank, token_mask=token_mask, mask_embedding=self.mask_embedding
        )
        outputs = tokens[:, self.encoder.num_prefix_tokens :]
        dim = outputs.shape[-1]
        # Masked positions in increasing order, the same for outputs and targets.
        masked_outputs = outputs[token_mask].reshape(batch, self.n_masked, dim)
        masked_targets = targets[token_mask].reshape(batch, self.n_masked, -1)
        nce, accuracy = info_nce(
            self.discriminative_head(masked_outputs), masked_targets
        )
        mse = F.mse_loss(
            self.generative_head(masked_outputs).float(), masked_targets.float()
        )
        return {
            "loss": nce + self.gen_weight * mse,
            "info_nce": nce,
            "mse": mse,
            "accuracy": accuracy,
        }


def prediction_head(dim, patch_dim):
    """A two-layer MLP from an encoder output to one patch.

    Arguments
    ---------
    dim : int
        Encoder width.
    patch_dim : int
        Values per patch.

    Returns
    -------
    torch.nn.Sequential
        ``Linear(dim, dim) -> ReLU -> Linear(dim, patch_dim)``.

    Example
    -------
    >>> prediction_head(32, 256)(torch.randn(2, 5, 32)).shape
    torch.Size([2, 5, 256])
    """
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, patch_dim))
