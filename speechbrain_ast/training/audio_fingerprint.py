"""A cheap audio fingerprint, to find held-out clips that are copies of training clips.

File names do not always tell the recording: the same recording saved twice
under two names, or two slices that overlap. Each clip gets a set of 24-bit
sub-fingerprints, one per 10 ms frame, in the manner of Haitsma and Kalker's
(2002) energy-difference hashes: the sign of the difference of adjacent
mel-band energies, differenced again over time, from long (128 ms) frames so
that a slice cut at another offset gives mostly the same bits. A held-out clip
that shares ``min_shared`` sub-fingerprints with one training clip *at one
time offset* is a near-duplicate of it: copies and overlapping slices line up,
while the few values two unrelated clips share by chance (harmonic sounds of
one class share some: 10-11 on ESC-50's crying babies, cross-correlation
0.02-0.05) fall at scattered offsets. Sub-fingerprints found in many training
clips (stationary hum, tones) are not counted, and quiet frames give none.

Authors
 * speechbrain-ast contributors 2026
"""

import collections

import torch
import torchaudio

__all__ = ["fingerprint", "near_duplicates"]

SAMPLE_RATE = 16000
N_FFT, HOP, N_BANDS = 2048, 160, 25
_MEL = torchaudio.functional.melscale_fbanks(
    N_FFT // 2 + 1, 300.0, 4000.0, N_BANDS, SAMPLE_RATE, norm=None, mel_scale="htk"
)
_WEIGHTS = 2 ** torch.arange(N_BANDS - 1, dtype=torch.int64)


def fingerprint(waveform, quiet_db=-60.0):
    """The sub-fingerprints of a 16 kHz mono waveform.

    Arguments
    ---------
    waveform : torch.Tensor
        ``[samples]`` at 16 kHz.
    quiet_db : float
        Frames whose energy is this far below the clip's loudest frame give
        no sub-fingerprint.

    Returns
    -------
    dict
        Distinct 24-bit value -> the frame (10 ms) where it first occurs.

    Example
    -------
    >>> noise = torch.randn(32000, generator=torch.Generator().manual_seed(0))
    >>> prints = fingerprint(noise)
    >>> len(prints) > 100, len(prints.keys() & fingerprint(noise[1600:]).keys()) > 50
    (True, True)
    >>> fingerprint(torch.zeros(16000))
    {}
    """
    waveform = waveform.float().flatten()
    if waveform.numel() < N_FFT:
        return {}
    spectrum = torch.stft(
        waveform, N_FFT, HOP, window=torch.hann_window(N_FFT), center=False,
        return_complex=True,
    ).abs().pow(2)  # fmt: skip
    energy = (_MEL.T @ spectrum).clamp_min(1e-10).log()  # [bands, frames]
    band_difference = energy[:-1] - energy[1:]
    bits = (band_difference[:, 1:] - band_difference[:, :-1]) > 0  # [bands - 1, frames - 1]
    loudness = 10 * torch.log10(spectrum.sum(0).clamp_min(1e-20))[1:]
    loud = (loudness > loudness.max() + quiet_db) & (loudness > -100.0)  # not digital silence
    values = (bits.T.to(torch.int64) * _WEIGHTS).sum(1)
    frames = torch.nonzero(loud).flatten().tolist()
    prints = {}
    for frame, value in zip(frames, values[loud].tolist()):
        prints.setdefault(value, frame)
    return prints


def near_duplicates(train, held_out, min_shared=8, max_clips=20):
    """For each held-out clip, the training clip it lines up with best.

    Arguments
    ---------
    train : dict
        Training clip id -> :func:`fingerprint`.
    held_out : dict
        Held-out clip id -> :func:`fingerprint`.
    min_shared : int
        Shared values at one time offset (within 20 ms) that make a
        near-duplicate.
    max_clips : int
        Values found in more training clips than this are not counted.

    Returns
    -------
    dict
        Held-out id -> ``(training id, aligned shared values)`` for the
        near-duplicates.

    Example
    -------
    >>> train = {"a": {v: v for v in range(100)}, "b": {v: 0 for v in range(1000, 1100)}}
    >>> near_duplicates(train, {"x": {v: v - 40 for v in range(50, 80)},
    ...                         "y": {1000 + v: 7 * v for v in range(50)}})
    {'x': ('a', 30)}
    """
    index = collections.defaultdict(list)
    for clip, values in train.items():
        for value, frame in values.items():
            index[value].append((clip, frame))
    found = {}
    for clip, values in held_out.items():
        votes = collections.Counter()
        for value, frame in values.items():
            owners = index.get(value, ())
            if 0 < len(owners) <= max_clips:
                votes.update((owner, (frame - other) // 2) for owner, other in owners)
        if votes:
            (best, _), count = max(votes.items(), key=lambda item: (item[1], item[0]))
            if count >= min_shared:
                found[clip] = (best, count)
    return found
