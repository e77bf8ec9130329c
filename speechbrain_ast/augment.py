"""Training-time augmentation and losses of the official AST recipes, batched.

The official AST loader augments one clip at a time on the CPU workers. The
functions here do the same things to a whole padded batch on the training
device, with no per-sample Python loop and no host-device synchronisation:

* ``mixup_waveforms``: waveform mixup with a uniformly drawn partner and
  ``lambda ~ Beta(alpha, alpha)``, applied to each clip with probability
  ``prob``; the labels are mixed with the same ``lambda`` (soft targets).
* ``SpecAugment``: one frequency mask and one time mask per clip, value 0,
  on the raw log-mel fbank (before normalisation, as the official loader).
* ``noise_and_roll``: the Speech Commands augmentation applied after
  normalisation (uniform noise, then a random circular shift in time).
* ``soft_cross_entropy``: cross-entropy against soft (mixed) targets.
* ``balanced_sample_weights``: the AudioSet balanced-sampling weights of the
  official ``gen_weight_file.py`` (``1000 / (count + 0.01)`` per label).

Authors
 * speechbrain-ast contributors 2026
"""

import math
import numbers
from collections import Counter

import torch
from torch import nn
from torchaudio.transforms import FrequencyMasking, TimeMasking

__all__ = [
    "SpecAugment",
    "balanced_sample_weights",
    "mixup_waveforms",
    "noise_and_roll",
    "sample_beta",
    "soft_cross_entropy",
]


def _sample_gamma(shape_param, n, generator=None, device=None, n_tries=16):
    """Draw ``n`` Gamma(shape_param, 1) variates (Marsaglia-Tsang, vectorised).

    Each variate gets ``n_tries`` candidates at once and keeps the first
    accepted one, so there is no data-dependent loop (the acceptance rate is
    above 95 % for every shape, so all candidates fail with probability below
    1e-20; the mode of the proposal is used then). Shapes below 1 use the
    boost ``Gamma(a) = Gamma(a + 1) * U ** (1 / a)``.
    """
    boost = shape_param < 1.0
    a = shape_param + 1.0 if boost else shape_param
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    x = torch.randn(n, n_tries, generator=generator, device=device)
    u = torch.rand(n, n_tries, generator=generator, device=device)
    v = (1.0 + c * x) ** 3
    log_v = torch.log(v.clamp_min(torch.finfo(v.dtype).tiny))
    accept = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * log_v)
    first = accept.to(torch.int32).argmax(dim=1, keepdim=True)
    gamma = d * v.gather(1, first).squeeze(1)
    gamma = torch.where(accept.any(dim=1), gamma, torch.full_like(gamma, d))
    if boost:
        u_boost = torch.rand(n, generator=generator, device=device)
        gamma = gamma * u_boost.pow(1.0 / shape_param)
    return gamma


def sample_beta(alpha, n, generator=None, device=None):
    """Draw ``n`` samples of ``Beta(alpha, alpha)`` on ``device``.

    Unlike ``torch.distributions.Beta``, this accepts a ``torch.Generator``,
    so the draws are reproducible and independent of the global RNG.

    Arguments
    ---------
    alpha : float
        Both concentration parameters (> 0).
    n : int
        Number of samples.
    generator : torch.Generator, optional
        Random generator (on ``device``); the global RNG when None.
    device : torch.device or str, optional
        Where the samples are drawn.

    Returns
    -------
    torch.Tensor
        ``[n]`` float32 samples in [0, 1].

    Example
    -------
    >>> lam = sample_beta(10.0, 20000, generator=torch.Generator().manual_seed(0))
    >>> round(lam.mean().item(), 2), round(lam.var().item(), 3)  # 0.5, 1/84
    (0.5, 0.012)
    """
    alpha = float(alpha)
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    x = _sample_gamma(alpha, n, generator, device)
    y = _sample_gamma(alpha, n, generator, device)
    total = x + y
    # Both draws can underflow to 0 for tiny alpha; call that an even mix.
    return torch.where(total > 0, x / total.clamp_min(1e-30), torch.full_like(x, 0.5))


def _valid_mask(lengths, batch, total, device):
    """Number of valid samples ``[B]`` and validity mask ``[B, S]``."""
    if lengths is None:
        n_valid = torch.full((batch,), total, device=device, dtype=torch.long)
    else:
        n_valid = torch.round(lengths.to(device).float() * total).long()
        n_valid = n_valid.clamp(0, total)
    valid = torch.arange(total, device=device) < n_valid[:, None]
    return n_valid, valid


def _centred_partners(partners, batch, total, device):
    """Outside partners, centred over their own samples and cut or padded to ``total``."""
    partner_wavs, partner_lengths, partner_targets = partners
    if partner_wavs.ndim != 2 or partner_wavs.shape[0] != batch:
        raise ValueError(
            f"expected {batch} partner waveforms [batch, samples], got "
            f"{list(partner_wavs.shape)}"
        )
    n_partner, partner_valid = _valid_mask(
        partner_lengths, batch, partner_wavs.shape[1], device
    )
    work = partner_wavs.to(device).float()
    centred = (work - (work * partner_valid).sum(1, keepdim=True)
               / n_partner.clamp_min(1)[:, None]) * partner_valid  # fmt: skip
    if centred.shape[1] >= total:
        centred = centred[:, :total]
    else:
        centred = torch.nn.functional.pad(centred, (0, total - centred.shape[1]))
    return centred, partner_targets.to(device)


def mixup_waveforms(wavs, lengths, targets, prob, alpha=10.0, generator=None, partners=None):
    """Waveform mixup of the official AST loader, for a whole padded batch.

    For each clip ``i``, with probability ``prob``: draw a partner ``j``
    uniformly among the *other* clips of the batch (the official loader
    draws it uniformly over the whole dataset, where it is itself with
    probability ~1/N; drawing ``i`` itself with probability 1/B in a small
    batch would lower the effective mixup rate, e.g. by 8 % for B = 12) and
    ``lam ~ Beta(alpha, alpha)``; both clips are centred over their own
    valid samples (the official loader loads mean-removed audio), the
    partner is cut or zero-padded to clip ``i``'s length, and the result is
    ``lam * w_i + (1 - lam) * w_j`` with its mean over clip ``i``'s valid
    samples removed again. Targets become ``lam * t_i + (1 - lam) * t_j``,
    the official label mixing (a class present in both clips gets 1). These
    soft targets are right for BCE and for ``soft_cross_entropy`` (the
    official CE path truncates them with ``.long()``, a bug not reproduced).

    Clips that are not mixed are returned unchanged (same values, no
    centring), and every clip keeps its own length. Padding stays 0.

    ``partners`` gives the official form instead: clip ``i``'s partner is
    ``partners[i]``, drawn by the caller uniformly over the whole training
    set (:class:`speechbrain_ast.training.mixup_partners.DatasetPartners`).

    Arguments
    ---------
    wavs : torch.Tensor
        Padded waveforms ``[B, S]``.
    lengths : torch.Tensor or None
        Relative lengths ``[B]`` (SpeechBrain convention); None = all full.
    targets : torch.Tensor
        One-hot or multi-hot targets ``[B, C]``.
    prob : float
        Probability that a clip is mixed (official ``--mixup``).
    alpha : float
        Beta concentration (official: 10).
    generator : torch.Generator, optional
        Random generator on the batch's device (global RNG when None). The
        draws are, in order: the mix decisions ``[B]``, the partner offsets
        ``[B]`` (none when B = 1 or with ``partners``), then ``lam``
        (``sample_beta``).
    partners : tuple, optional
        ``(wavs [B, S'], lengths [B] or None, targets [B, C])``: one partner
        per clip, from outside the batch. None: partners from the batch.

    Returns
    -------
    mixed_wavs : torch.Tensor
        ``[B, S]``, same dtype as ``wavs``.
    mixed_lengths : torch.Tensor
        ``lengths`` itself (a mixed clip keeps the first clip's length).
    mixed_targets : torch.Tensor
        ``[B, C]`` floating-point soft targets.

    Example
    -------
    >>> wavs = torch.randn(4, 16000)
    >>> targets = torch.eye(4)
    >>> lens = torch.tensor([1.0, 1.0, 0.5, 0.75])
    >>> gen = torch.Generator().manual_seed(0)
    >>> new_wavs, new_lens, new_targets = mixup_waveforms(
    ...     wavs, lens, targets, prob=1.0, generator=gen
    ... )
    >>> new_wavs.shape, new_targets.sum(dim=1)
    (torch.Size([4, 16000]), tensor([1., 1., 1., 1.]))
    >>> bool((new_wavs[2, 8000:] == 0).all())  # padding stays zero
    True
    """
    if wavs.ndim != 2:
        raise ValueError(f"expected waveforms [batch, samples], got {list(wavs.shape)}")
    if targets.ndim != 2 or targets.shape[0] != wavs.shape[0]:
        raise ValueError(
            f"expected targets [batch={wavs.shape[0]}, classes], got {list(targets.shape)}"
        )
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"prob must be in [0, 1], got {prob}")
    if not targets.is_floating_point():
        targets = targets.float()
    batch, total = wavs.shape
    if prob == 0.0 or batch == 0:
        return wavs, lengths, targets

    device = wavs.device
    do_mix = torch.rand(batch, generator=generator, device=device) < prob
    if partners is None and batch > 1:  # uniform over the other clips: i + U{1..B-1} mod B
        offset = torch.randint(1, batch, (batch,), generator=generator, device=device)
        partner = torch.remainder(torch.arange(batch, device=device) + offset, batch)
    else:
        partner = torch.zeros(1, dtype=torch.long, device=device)
    lam = sample_beta(alpha, batch, generator=generator, device=device)

    n_valid, valid = _valid_mask(lengths, batch, total, device)
    denom = n_valid.clamp_min(1)[:, None]
    work = wavs.float()
    centred = (work - (work * valid).sum(1, keepdim=True) / denom) * valid
    if partners is None:
        partner_centred, partner_targets = centred[partner], targets[partner]
    else:
        partner_centred, partner_targets = _centred_partners(partners, batch, total, device)
        partner_targets = partner_targets.to(targets.dtype)
    lam_w = lam[:, None]
    # The partner is zero past its own end (zero padding); the mask cuts it
    # at the first clip's end.
    mixed = (lam_w * centred + (1.0 - lam_w) * partner_centred) * valid
    mixed = (mixed - mixed.sum(1, keepdim=True) / denom) * valid
    mixed_wavs = torch.where(do_mix[:, None], mixed.to(wavs.dtype), wavs)

    lam_t = lam.to(targets.dtype)[:, None]
    mixed_targets = lam_t * targets + (1.0 - lam_t) * partner_targets
    mixed_targets = torch.where(do_mix[:, None], mixed_targets, targets)
    return mixed_wavs, lengths, mixed_targets


class SpecAugment(nn.Module):
    """One frequency and one time mask per clip on the raw fbank (official AST).

    Each clip of the batch gets its own masks (drawn independently, as the
    official loader masks clip by clip): width ``floor(U * param)`` in
    ``[0, param - 1]``, start ``floor(U' * (size - width_float))``, value 0.
    This is ``torchaudio``'s ``FrequencyMasking`` / ``TimeMasking`` with
    ``iid_masks=True`` on a ``[B, 1, F, T]`` view, whose per-clip draws are
    the same formulas as the ``mask_along_axis`` the official code calls on
    each ``[1, F, T]`` clip. Apply it to the raw log-mel fbank *before*
    normalisation (the masked value 0 then lands on the same constant as the
    padding). Identity in eval mode or when both widths are 0.

    Arguments
    ---------
    freq_mask : int
        Maximum frequency-mask width plus one (official ``freqm``).
    time_mask : int
        Maximum time-mask width plus one (official ``timem``).

    Example
    -------
    >>> augment = SpecAugment(freq_mask=48, time_mask=192)
    >>> fbank = torch.randn(2, 1024, 128)
    >>> augment(fbank).shape
    torch.Size([2, 1024, 128])
    >>> _ = augment.eval()
    >>> torch.equal(augment(fbank), fbank)
    True
    """

    def __init__(self, freq_mask=48, time_mask=192):
        super().__init__()
        if freq_mask < 0 or time_mask < 0:
            raise ValueError("mask widths must be non-negative")
        self.freq_mask = int(freq_mask)
        self.time_mask = int(time_mask)
        self.freq_masking = FrequencyMasking(self.freq_mask, iid_masks=True)
        self.time_masking = TimeMasking(self.time_mask, iid_masks=True)

    def forward(self, fbank):
        """Mask a batch of features.

        Arguments
        ---------
        fbank : torch.Tensor
            Raw log-mel features ``[B, T, F]`` (float32).

        Returns
        -------
        torch.Tensor
            Masked features ``[B, T, F]`` (the input itself when inactive).
        """
        if fbank.ndim != 3:
            raise ValueError(
                f"expected features [batch, time, freq], got {list(fbank.shape)}"
            )
        if not self.training or (self.freq_mask < 1 and self.time_mask < 1):
            return fbank
        x = fbank.transpose(1, 2).unsqueeze(1)  # [B, 1, F, T]
        x = self.freq_masking(x)
        x = self.time_masking(x)
        return x.squeeze(1).transpose(1, 2)

    def extra_repr(self):
        """Show the mask parameters."""
        return f"freq_mask={self.freq_mask}, time_mask={self.time_mask}"


def time_augment_widths(n_frames):
    """SpecAugment time-mask width and time-shift range for ``n_frames`` input frames.

    The small from-scratch models mask up to a fifth of the input in time
    and shift it by up to a tenth (``timem`` and ``time_roll`` of
    ``ast_small_scratch.yaml``), whatever the clip length.

    Arguments
    ---------
    n_frames : int
        The model's input length in frames.

    Returns
    -------
    dict
        ``timem`` and ``time_roll`` in frames (at least 1).

    Example
    -------
    >>> time_augment_widths(100)
    {'timem': 20, 'time_roll': 10}
    """
    return {
        "timem": max(1, round(0.2 * n_frames)),
        "time_roll": max(1, round(0.1 * n_frames)),
    }


def noise_and_roll(fbank, max_shift=10, noise_scale=0.1, generator=None):
    """Speech Commands augmentation of the official loader, batched.

    Applied to the *normalised* features. Each clip gets
    ``fbank + rand(T, F) * u * noise_scale`` with ``u ~ U(0, 1)`` drawn per
    clip (non-negative noise), then a circular shift along time by an
    integer drawn uniformly in ``[-max_shift, max_shift - 1]`` (the official
    ``np.random.randint(-10, 10)``), as ``torch.roll`` on that clip would.

    Arguments
    ---------
    fbank : torch.Tensor
        Normalised features ``[B, T, F]``.
    max_shift : int
        Shift range (0 disables the roll).
    noise_scale : float
        Maximum noise amplitude (0 disables the noise).
    generator : torch.Generator, optional
        Random generator on the batch's device (global RNG when None). Draw
        order: the noise ``[B, T, F]``, the per-clip scales ``[B]``, then the
        shifts ``[B]``.

    Returns
    -------
    torch.Tensor
        Augmented features ``[B, T, F]``.

    Example
    -------
    >>> fbank = torch.zeros(3, 128, 128)
    >>> out = noise_and_roll(fbank, generator=torch.Generator().manual_seed(0))
    >>> out.shape, bool((out >= 0).all()), bool((out <= 0.1).all())
    (torch.Size([3, 128, 128]), True, True)
    """
    if fbank.ndim != 3:
        raise ValueError(
            f"expected features [batch, time, freq], got {list(fbank.shape)}"
        )
    batch, frames, bins = fbank.shape
    device = fbank.device
    dtype = fbank.dtype if fbank.is_floating_point() else torch.float32
    out = fbank
    if noise_scale > 0:
        noise = torch.rand(fbank.shape, generator=generator, device=device, dtype=dtype)
        scale = torch.rand(batch, 1, 1, generator=generator, device=device, dtype=dtype)
        out = out + noise * (scale * noise_scale)
    if max_shift > 0:
        shift = torch.randint(
            -max_shift, max_shift, (batch,), generator=generator, device=device
        )
        # torch.roll(x, s, 0)[t] == x[(t - s) mod T]
        index = torch.remainder(
            torch.arange(frames, device=device)[None, :] - shift[:, None], frames
        )
        out = out.gather(1, index[:, :, None].expand(batch, frames, bins))
    return out


def soft_cross_entropy(logits, targets):
    """Cross-entropy against soft targets, averaged over the batch.

    ``mean_b( -sum_c targets[b, c] * log_softmax(logits[b])[c] )``. With
    one-hot targets it equals ``torch.nn.functional.cross_entropy``; with
    mixup targets it is the proper mixed loss.

    Arguments
    ---------
    logits : torch.Tensor
        Unnormalised scores ``[..., C]``.
    targets : torch.Tensor
        Target distributions ``[..., C]`` (rows summing to 1).

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Example
    -------
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> torch.allclose(
    ...     soft_cross_entropy(logits, targets),
    ...     torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])),
    ... )
    True
    """
    if logits.shape != targets.shape:
        raise ValueError(
            f"logits {list(logits.shape)} and targets {list(targets.shape)} differ"
        )
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return -(targets * log_probs).sum(dim=-1).mean()


def classification_loss(logits, targets, multi_label=False, label_smoothing=0.0):
    """The loss of a task whose kind is known only from its data.

    Multi-label tagging: binary cross-entropy on sigmoid scores (AudioSet);
    single-label classification: :func:`soft_cross_entropy` (exact with
    mixup targets). A recipe YAML declares it with ``!name:`` and the
    ``multi_label`` value the data gave.

    Arguments
    ---------
    logits : torch.Tensor
        Unnormalised scores ``[B, C]``.
    targets : torch.Tensor
        Multi-hot or (mixed) one-hot targets ``[B, C]``.
    multi_label : bool
        Which loss.
    label_smoothing : float
        Share ``e`` of each target moved to a uniform one: the loss sees
        ``(1 - e) * targets + e / C`` (0 = off; the official Speech Commands
        recipe smooths with 0.1).

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Example
    -------
    >>> logits, targets = torch.zeros(1, 2), torch.tensor([[1.0, 0.0]])
    >>> round(classification_loss(logits, targets).item(), 4)  # log 2
    0.6931
    >>> round(classification_loss(logits, targets, multi_label=True).item(), 4)
    0.6931
    >>> logits = torch.tensor([[3.0, 0.0]])
    >>> sharp = classification_loss(logits, targets)
    >>> bool(classification_loss(logits, targets, label_smoothing=0.1) > sharp)
    True
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if label_smoothing:
        targets = targets * (1.0 - label_smoothing) + label_smoothing / targets.shape[-1]
    if multi_label:
        return torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), targets)
    return soft_cross_entropy(logits, targets)


def balanced_sample_weights(label_lists, n_classes=None):
    """Per-clip sampling weights of the official ``gen_weight_file.py``.

    Each label gets ``1000 / (count + 0.01)`` where ``count`` is how often it
    occurs in ``label_lists``; a clip's weight is the sum over its labels.
    Use them with ``speechbrain.dataio.sampler.ReproducibleWeightedRandomSampler``
    (``replacement=True``, ``num_samples=len(weights)``), as the official
    ``WeightedRandomSampler``.

    Arguments
    ---------
    label_lists : list
        One entry per clip: a list of labels (ints or strings) or a
        comma-separated string (official ``"mid1,mid2"`` format).
    n_classes : int, optional
        If given, labels must be integers in ``[0, n_classes)``.

    Returns
    -------
    torch.Tensor
        ``[N]`` float64 weights (a DoubleTensor).

    Example
    -------
    >>> balanced_sample_weights([[0], [0, 1], [1], [1]], n_classes=2)
    tensor([497.5124, 829.7384, 332.2259, 332.2259], dtype=torch.float64)
    >>> balanced_sample_weights(["/m/a", "/m/a,/m/b"])
    tensor([ 497.5124, 1487.6114], dtype=torch.float64)
    """
    clips = [
        [lab for lab in labels.split(",") if lab]
        if isinstance(labels, str)
        else list(labels)
        for labels in label_lists
    ]
    if n_classes is not None:
        for i, labels in enumerate(clips):
            for lab in labels:
                if (
                    isinstance(lab, bool)
                    or not isinstance(lab, numbers.Integral)
                    or not 0 <= lab < n_classes
                ):
                    raise ValueError(
                        f"clip {i}: label {lab!r} is not an integer in [0, {n_classes})"
                    )
    counts = Counter(lab for labels in clips for lab in labels)
    label_weight = {lab: 1000.0 / (count + 0.01) for lab, count in counts.items()}
    return torch.tensor(
        [sum(label_weight[lab] for lab in labels) for labels in clips],
        dtype=torch.float64,
    )
