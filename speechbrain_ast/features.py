"""Kaldi-compatible log-mel filterbanks, computed batched, and AST normalisation.

``KaldiFbank`` reproduces, for a whole padded batch on any device,
``torchaudio.compliance.kaldi.fbank(wav, htk_compat=True, use_energy=False,
window_type='hanning', num_mel_bins=128, dither=0.0, frame_shift=10)`` as the
official AST computes it clip by clip: 25 ms symmetric Hann windows
(snip_edges), per-frame DC removal, pre-emphasis 0.97, 512-point power
spectrum, Kaldi mel banks (20 Hz to Nyquist; taken from torchaudio), natural
log floored at float32 eps. The official pipeline also removes the clip mean
first and pads/cuts the raw fbank to the model length with zeros; both are
done here, using each clip's true length.

``FixedNormalization`` is AST's ``(x - mean) / (2 * std)`` with fixed
dataset statistics, shaped for SpeechBrain's ``mean_var_norm(feats, lengths)``
(statistics a recipe derives from its data may be set after it is built);
``ClipNormalization`` is the same with each clip's own statistics, and
``fbank_normalization`` builds the one a YAML's ``normalization`` names.
``compute_norm_stats`` and ``clip_norm_stats`` (a seeded sample of clip
files, as the data preparations use it) compute those statistics.

Authors
 * speechbrain-ast contributors 2026
"""

import math
import random

import torch
import torch.nn.functional as F
from torch import nn
from torchaudio.compliance.kaldi import get_mel_banks

from speechbrain_ast.audio import load_audio

# Official normalisation statistics (mean, std) of the raw fbank.
NORM_STATS = {
    "audioset": (-4.2677393, 4.5689974),
    "esc50": (-6.6268077, 5.358466),
    "speechcommands": (-6.845978, 5.5654526),
}
NORM_STATS_CLIPS = 500  # clips read by clip_norm_stats
# What a recipe YAML says for statistics it derives from its data.
AUTO = "auto"


class KaldiFbank(nn.Module):
    """Batched Kaldi fbank for the ``compute_features`` slot: ``[B, S] -> [B, T, F]``.

    Frames of clip ``i`` beyond its own length (from ``lengths``) are set to
    ``pad_value`` (0, as the official zero padding of the raw fbank). With
    ``n_frames`` set, the output is padded/cut at the end to exactly that many
    frames; otherwise it has as many frames as the longest clip gives. The
    computation runs in float32 even inside autocast.

    Arguments
    ---------
    sample_rate : int
        Sample rate of the input waveforms (the features are built for it;
        resample before calling, ``speechbrain_ast.audio.load_audio`` does).
    n_mels : int
        Number of mel bins.
    n_frames : int, optional
        Pad/cut the output to this many frames.
    frame_length_ms, frame_shift_ms : float
        Window length and hop in milliseconds.
    low_freq, high_freq : float
        Mel range in Hz (``high_freq <= 0`` is relative to Nyquist, as Kaldi).
    preemphasis : float
        Pre-emphasis coefficient.
    remove_clip_mean : bool
        Subtract each clip's mean first (official training; its inference
        script and HuggingFace's extractor do not, which changes features
        only by float rounding since every frame is DC-removed anyway).
    pad_value : float
        Value of frames past a clip's end.
    check_input : bool
        Raise on NaN/Inf samples or clips shorter than one window. Costs one
        device-to-host sync per call; turn off in tight training loops whose
        loader already validates audio.
    chunk_frames : int, optional
        On CPU, process this many frames at a time (keeps the FFT in cache;
        about 1.5x faster than one huge FFT). None processes all at once.

    Example
    -------
    >>> fbank = KaldiFbank(n_frames=128)
    >>> wavs = torch.randn(2, 16000)
    >>> fbank(wavs, torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 128, 128])
    """

    def __init__(
        self,
        sample_rate=16000,
        n_mels=128,
        n_frames=None,
        frame_length_ms=25.0,
        frame_shift_ms=10.0,
        low_freq=20.0,
        high_freq=0.0,
        preemphasis=0.97,
        remove_clip_mean=True,
        pad_value=0.0,
        check_input=True,
        chunk_frames=1024,
    ):
        super().__init__()
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.n_frames = n_frames
        self.window_size = int(sample_rate * frame_length_ms / 1000)
        self.window_shift = int(sample_rate * frame_shift_ms / 1000)
        self.n_fft = 1 << (self.window_size - 1).bit_length()
        self.preemphasis = preemphasis
        self.remove_clip_mean = remove_clip_mean
        self.pad_value = pad_value
        self.check_input = check_input
        self.chunk_frames = chunk_frames
        banks, _ = get_mel_banks(
            n_mels, self.n_fft, sample_rate, low_freq, high_freq, 100.0, -500.0, 1.0
        )
        # Kaldi's banks skip the Nyquist bin: add it as a zero column.
        self.register_buffer("mel_banks", F.pad(banks, (0, 1)).T.contiguous())
        self.register_buffer(
            "window", torch.hann_window(self.window_size, periodic=False)
        )

    def frame_counts(self, n_samples):
        """Kaldi ``snip_edges`` frame count for each clip length in samples."""
        return (
            torch.div(
                n_samples - self.window_size, self.window_shift, rounding_mode="floor"
            )
            + 1
        )

    def forward(self, wavs, lengths=None):
        """Compute log-mel features.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, S]`` (or ``[S]``), zero-padded at the end.
        lengths : torch.Tensor, optional
            Relative lengths ``[B]`` in (0, 1] (SpeechBrain convention).

        Returns
        -------
        torch.Tensor
            Log-mel features ``[B, T, n_mels]`` (float32).
        """
        with torch.autocast(wavs.device.type, enabled=False):
            return self._compute(wavs, lengths)

    def _compute(self, wavs, lengths):
        if wavs.ndim == 1:
            wavs = wavs.unsqueeze(0)
        if wavs.ndim != 2:
            raise ValueError(
                f"expected waveforms [batch, samples], got {list(wavs.shape)}"
            )
        wavs = wavs.float()
        batch, total = wavs.shape
        if lengths is None:
            n_samples = torch.full((batch,), total, device=wavs.device)
        else:
            n_samples = torch.round(lengths.to(wavs.device).float() * total).long()
        if self.check_input:
            self._validate(wavs, n_samples)
        if total < self.window_size:
            wavs = F.pad(wavs, (0, self.window_size - total))
        if self.remove_clip_mean:
            valid = torch.arange(wavs.shape[1], device=wavs.device) < n_samples[:, None]
            mean = (wavs * valid).sum(1, keepdim=True) / n_samples.clamp_min(1)[:, None]
            wavs = wavs - mean

        frames = wavs.unfold(1, self.window_size, self.window_shift)
        if self.n_frames is not None:
            frames = frames[:, : self.n_frames]
        n_out = frames.shape[1]
        valid_frames = torch.arange(n_out, device=wavs.device) < self.frame_counts(
            n_samples
        )[:, None]
        if wavs.is_cuda or not self.chunk_frames:
            # One pass over every frame: padding is cheap on a GPU, masking is not.
            feats = self._log_mel(frames.reshape(-1, self.window_size))
            feats = feats.reshape(batch, n_out, self.n_mels)
            feats = feats.masked_fill(~valid_frames[..., None], self.pad_value)
        else:
            # CPU: only the frames inside each clip (strided views, no gather
            # copy), in cache-sized chunks. Counts are host values on CPU.
            feats = frames.new_full((batch, n_out, self.n_mels), self.pad_value)
            step = self.chunk_frames
            counts = self.frame_counts(n_samples).clamp(0, n_out).tolist()
            for clip, count in enumerate(counts):
                for start in range(0, count, step):
                    stop = min(start + step, count)
                    feats[clip, start:stop] = self._log_mel(frames[clip, start:stop])
        if self.n_frames is not None and n_out < self.n_frames:
            feats = F.pad(feats, (0, 0, 0, self.n_frames - n_out), value=self.pad_value)
        return feats

    def _log_mel(self, frames):
        """Log-mel energies of ``[N, window]`` raw frames (Kaldi order of steps)."""
        frames = frames - frames.mean(dim=1, keepdim=True)
        # Pre-emphasis with Kaldi's edge rule: the first sample uses itself.
        emphasized = torch.empty_like(frames)
        torch.sub(frames[:, 1:], self.preemphasis * frames[:, :-1], out=emphasized[:, 1:])
        torch.sub(frames[:, 0], self.preemphasis * frames[:, 0], out=emphasized[:, 0])
        emphasized.mul_(self.window)
        spectrum = torch.fft.rfft(emphasized, n=self.n_fft)
        # |X|^2 without the square root of abs().
        power = spectrum.real.square().addcmul_(spectrum.imag, spectrum.imag)
        energies = power @ self.mel_banks
        return energies.clamp_min_(torch.finfo(torch.float32).eps).log_()

    def _validate(self, wavs, n_samples):
        """Raise a clear error for non-finite samples or too-short clips."""
        bad = ~torch.isfinite(wavs).all(dim=1)
        short = n_samples < self.window_size
        if bool(bad.any()):
            raise ValueError(
                f"waveform(s) {bad.nonzero().flatten().tolist()} contain NaN or Inf"
            )
        if bool(short.any()):
            raise ValueError(
                f"waveform(s) {short.nonzero().flatten().tolist()} are shorter than "
                f"one {self.window_size}-sample window (25 ms at "
                f"{self.sample_rate} Hz); pad them first"
            )


def _is_auto(value):
    return isinstance(value, str) and value == AUTO


class FixedNormalization(nn.Module):
    """AST normalisation ``(x - mean) / (2 * std)`` with fixed statistics.

    Fits SpeechBrain's ``mean_var_norm(feats, lengths)`` slot. Statistics are
    buffers, so they travel inside checkpoints.

    Statistics that a recipe derives from its data (``norm_mean: auto``) are
    not known when its YAML is read without the data: built with ``"auto"``,
    the module exists but refuses to normalise, with an error that says so,
    until ``set_statistics`` gives it the values. The recipes derive them
    before they build the module, so a training run never sees this state.

    Arguments
    ---------
    mean, std : float or "auto"
        Statistics of the raw fbank (see ``NORM_STATS``), or both ``"auto"``
        (set later with ``set_statistics``, or by loading a state dict), or
    dataset : str, optional
        A key of ``NORM_STATS`` ("audioset", "esc50", "speechcommands").

    Example
    -------
    >>> norm = FixedNormalization(dataset="audioset")
    >>> round(norm(torch.zeros(1, 2, 3))[0, 0, 0].item(), 3)  # padding value
    0.467
    >>> later = FixedNormalization(mean="auto", std="auto")
    >>> later.has_statistics
    False
    >>> later.set_statistics(-4.2677393, 4.5689974)
    >>> round(later.normalized(0.0), 3)
    0.467
    """

    def __init__(self, mean=None, std=None, dataset=None):
        super().__init__()
        if dataset is not None:
            if dataset not in NORM_STATS:
                raise ValueError(
                    f"unknown dataset {dataset!r}; known: {sorted(NORM_STATS)}"
                )
            mean, std = NORM_STATS[dataset]
        self.register_buffer("mean", torch.tensor(float("nan")))
        self.register_buffer("std", torch.tensor(float("nan")))
        # A Python flag, not isfinite(buffer): no device sync per batch.
        self.has_statistics = False
        if _is_auto(mean) or _is_auto(std):
            if not (_is_auto(mean) and _is_auto(std)):
                raise ValueError(
                    "mean and std are both 'auto' or both numbers, "
                    f"got {mean!r}, {std!r}"
                )
            return
        self.set_statistics(mean, std)

    def set_statistics(self, mean, std):
        """Set the raw fbank statistics (e.g. those a recipe derived from its data).

        Arguments
        ---------
        mean : float
            Mean of the raw fbank.
        std : float
            Its standard deviation (positive).
        """
        if mean is None or std is None:
            raise ValueError("give dataset=... or a finite mean and a positive std")
        if not math.isfinite(float(mean)) or not float(std) > 0:
            raise ValueError("give dataset=... or a finite mean and a positive std")
        self.mean.fill_(float(mean))
        self.std.fill_(float(std))
        self.has_statistics = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Statistics loaded from a checkpoint count as set.
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.has_statistics = bool(
            torch.isfinite(self.mean).item() and torch.isfinite(self.std).item()
        )

    def _check_statistics(self):
        if not self.has_statistics:
            raise RuntimeError(
                "FixedNormalization has no statistics yet (norm_mean/norm_std: "
                "auto): the recipe derives them from the data before training; "
                "give norm_mean and norm_std, or call set_statistics(mean, std)"
            )

    def forward(self, feats, lengths=None):
        """Normalise ``[B, T, F]`` features (``lengths`` unused: stats are fixed)."""
        self._check_statistics()
        return (feats - self.mean) / (2 * self.std)

    def normalized(self, value):
        """Where a raw fbank ``value`` (e.g. the 0 padding) lands after normalising."""
        self._check_statistics()
        return (value - self.mean.item()) / (2 * self.std.item())


class ClipNormalization(nn.Module):
    """Each clip's own ``(x - mean) / (2 * std)``: instance normalisation of the fbank.

    The statistics are one mean and one std per clip, over its real frames and
    all mel bins, so the input no longer carries the recording's level or the
    overall loudness of a voice; the shape of the spectrum (which bins are
    louder) and its changes over time stay. The ``2 * std`` keeps the scale of
    ``FixedNormalization``, so the same model settings apply.

    Padding is found from the values, not from ``lengths``: ``KaldiFbank``
    sets every frame past a clip's end to ``pad_value`` (raw 0) in all bins,
    which a real frame never is (a log-mel of exactly 1 in every bin). That
    keeps the module a pure function of its input, the same in training,
    tagging and an ONNX graph. Padded frames (and time-masked ones, also 0)
    are left out of the statistics and come out as 0, the clip's mean.

    Arguments
    ---------
    pad_value : float
        The raw fbank value of padded frames (``KaldiFbank``'s ``pad_value``).
    min_std : float
        Floor of the std, in log-mel units (a real clip's is 2-6): a constant
        clip would divide by 0, a nearly constant one would be blown up to
        the scale of a real sound.
    silence_level : float, optional
        Frames whose every bin is at or under this raw log-mel are treated as
        padding too (``normalization: clip_sound``). ``DIGITAL_SILENCE`` is
        just over the fbank's floor (``log`` of float32 eps, -15.94): samples
        of exactly 0, as datasets pad short events to a fixed length (ESC-50
        pads a 1 s bark with 4 s of zeros). Left in, such frames set most of
        the clip's mean and std, so the same bark is scaled by how long the
        file is; left out, it is scaled as if cut to its length.

    Example
    -------
    >>> norm = ClipNormalization()
    >>> loud = torch.randn(1, 4, 3) - 2.0
    >>> quiet = torch.cat([loud - 5.0, torch.zeros(1, 2, 3)], dim=1)  # + padding
    >>> torch.allclose(norm(loud), norm(quiet)[:, :4], atol=1e-5)
    True
    >>> norm(quiet)[0, 4:].abs().max().item()
    0.0
    >>> zeros = torch.cat([loud, torch.full((1, 6, 3), -15.94)], dim=1)  # digital silence
    >>> sound = ClipNormalization(silence_level=DIGITAL_SILENCE)
    >>> torch.allclose(sound(zeros)[:, :4], norm(loud), atol=1e-5)
    True
    >>> torch.allclose(norm(zeros)[:, :4], norm(loud), atol=1e-2)
    False
    """

    def __init__(self, pad_value=0.0, min_std=0.1, silence_level=None):
        super().__init__()
        self.pad_value = float(pad_value)
        self.min_std = float(min_std)
        self.silence_level = None if silence_level is None else float(silence_level)

    def forward(self, feats, lengths=None):
        """Normalise ``[B, T, F]`` features, each clip by its own statistics."""
        real = (feats != self.pad_value).any(dim=-1, keepdim=True)
        if self.silence_level is not None:
            real = real & (feats > self.silence_level).any(dim=-1, keepdim=True)
        real = real.to(feats.dtype)
        count = (real.sum(dim=(1, 2), keepdim=True) * feats.shape[-1]).clamp_min(1.0)
        # Sums of values shifted by one of the clip's own (its first): a
        # constant clip (digital silence) then centres to exactly 0, in
        # PyTorch and onnxruntime alike, whatever their summation order.
        shifted = (feats - feats[:, :1, :1]) * real
        centred = (shifted - shifted.sum(dim=(1, 2), keepdim=True) / count) * real
        std = ((centred**2).sum(dim=(1, 2), keepdim=True) / count).sqrt()
        return centred / (2 * std.clamp_min(self.min_std))


# Just over KaldiFbank's floor, log(float32 eps) = -15.94: a frame of zeros.
DIGITAL_SILENCE = -15.0
NORMALIZATIONS = ("dataset", "clip", "clip_sound")


def fbank_normalization(kind, mean=AUTO, std=AUTO):
    """The ``mean_var_norm`` module a YAML's ``normalization`` key names.

    Arguments
    ---------
    kind : str
        ``"dataset"``: AST's fixed statistics (``FixedNormalization``);
        ``"clip"``: each clip's own (``ClipNormalization``);
        ``"clip_sound"``: each clip's own over its frames that are not
        digital silence (those come out as 0, like padding).
    mean, std : float or "auto"
        The dataset statistics (only read for ``"dataset"``).

    Returns
    -------
    torch.nn.Module
        The normaliser.

    Example
    -------
    >>> type(fbank_normalization("clip", "auto", "auto")).__name__
    'ClipNormalization'
    >>> fbank_normalization("dataset", -6.6, 5.4).has_statistics
    True
    """
    if kind == "dataset":
        return FixedNormalization(mean=mean, std=std)
    if kind == "clip":
        return ClipNormalization()
    if kind == "clip_sound":
        return ClipNormalization(silence_level=DIGITAL_SILENCE)
    raise ValueError(f"normalization: {kind!r}; known: {', '.join(NORMALIZATIONS)}")


def normalized_value(value, mean, std, normalization="dataset"):
    """Where a raw fbank ``value`` lands after ``(x - mean) / (2 * std)``.

    For a YAML's encoder ``pad_value`` (the raw fbank's zero padding after
    normalising): a ``!ref`` expression cannot compute it, since HyperPyYAML
    leaves ``(0 - -6.6) / (2 * 5.4)`` (a negative mean) as a string.
    Statistics still ``"auto"`` give NaN: the normaliser refuses to run until
    they are known, so that value never reaches the features.

    Arguments
    ---------
    value : float
        Raw fbank value.
    mean, std : float or "auto"
        The normalisation statistics.
    normalization : str
        ``"dataset"`` (these statistics) or ``"clip"``: ``ClipNormalization``
        puts padding on 0, whatever the statistics.

    Returns
    -------
    float
        ``(value - mean) / (2 * std)``, 0.0 for ``"clip"``, or NaN for
        ``"auto"`` statistics.

    Example
    -------
    >>> round(normalized_value(0.0, -6.6268077, 5.358466), 3)
    0.618
    >>> normalized_value(0.0, "auto", "auto")
    nan
    >>> normalized_value(0.0, "auto", "auto", normalization="clip")
    0.0
    """
    if normalization in ("clip", "clip_sound"):
        return 0.0
    if _is_auto(mean) or _is_auto(std):
        return float("nan")
    return (float(value) - float(mean)) / (2 * float(std))


@torch.no_grad()
def compute_norm_stats(waveforms, fbank=None):
    """Mean and std of the raw fbank over a dataset, for ``FixedNormalization``.

    Unlike the official script (mean of per-batch stds, with augmentation
    on), this is the exact global mean/std over every valid frame and bin.

    Arguments
    ---------
    waveforms : iterable of torch.Tensor
        Mono waveforms ``[S]`` at the fbank's sample rate.
    fbank : KaldiFbank, optional
        Feature extractor (default: 128-bin, no length cut).

    Returns
    -------
    tuple of float
        ``(mean, std)``.

    Example
    -------
    >>> mean, std = compute_norm_stats([torch.randn(8000), torch.randn(4000)])
    >>> std > 0
    True
    """
    fbank = fbank or KaldiFbank()
    total, total_sq, count = 0.0, 0.0, 0
    for wav in waveforms:
        feats = fbank(wav.unsqueeze(0)).double()
        total += feats.sum().item()
        total_sq += feats.pow(2).sum().item()
        count += feats.numel()
    if count == 0:
        raise ValueError("no audio given")
    mean = total / count
    return mean, max(total_sq / count - mean**2, 0.0) ** 0.5


def clip_norm_stats(
    paths, n_frames, seed, max_clips=NORM_STATS_CLIPS, sample_rate=16000
):
    """Mean and std of the raw fbank over a seeded sample of clips, each cut to ``n_frames``.

    What a data preparation writes for ``FixedNormalization``: the
    statistics of what the model sees (the first ``n_frames`` frames of each
    clip), over at most ``max_clips`` clips so that large data sets cost no
    more than that.

    Arguments
    ---------
    paths : list of str
        Audio files (the training clips), in a fixed order.
    n_frames : int
        The model's input length in frames.
    seed : int
        Seed of the sample.
    max_clips : int
        How many clips to read at the most.
    sample_rate : int
        Rate of the features; other rates are resampled.

    Returns
    -------
    tuple of float
        ``(mean, std)``, see :func:`compute_norm_stats`.

    Example
    -------
    >>> import numpy, soundfile
    >>> path = getfixture("tmpdir").join("a.wav").strpath
    >>> soundfile.write(path, numpy.random.randn(16000) * 0.1, 16000)
    >>> mean, std = clip_norm_stats([path], n_frames=64, seed=0)
    >>> std > 0
    True
    """
    fbank = KaldiFbank(sample_rate=sample_rate)
    window_samples = (n_frames - 1) * fbank.window_shift + fbank.window_size
    sample = random.Random(seed).sample(paths, min(max_clips, len(paths)))
    with torch.no_grad():
        return compute_norm_stats(
            (load_audio(path, sample_rate)[:window_samples] for path in sample), fbank
        )
