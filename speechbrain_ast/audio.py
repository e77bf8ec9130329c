"""Audio loading with clear errors: one reader for prepare, training and tagging.

Reads any format libsndfile knows (wav, flac, ogg, mp3) through SpeechBrain's
``audio_io`` (soundfile underneath; torchaudio's loader needs FFmpeg), downmixes
multi-channel audio by averaging, and resamples to the model's rate with
``torchaudio.functional.resample``. Every failure is an ``AudioError`` whose
message starts with the file path and says what is wrong.

Authors
 * speechbrain-ast contributors 2026
"""

import os

import torch
import torchaudio
from speechbrain.dataio import audio_io

# One 25 ms Kaldi window at 16 kHz: the shortest clip that gives one frame.
MIN_SAMPLES = 400


class AudioError(ValueError):
    """A file that cannot be used as audio; the message names the file."""


def load_audio(path, sample_rate=16000, resample=True):
    """Read ``path`` as a mono float waveform at ``sample_rate``.

    Arguments
    ---------
    path : str
        Audio file.
    sample_rate : int
        Rate the caller needs.
    resample : bool
        Resample other rates (True) or raise an ``AudioError`` (False).

    Returns
    -------
    torch.Tensor
        Waveform ``[samples]``, float32.

    Raises
    ------
    AudioError
        Missing, empty, unreadable or non-audio file; NaN/Inf samples;
        another sample rate when ``resample`` is False.

    Example
    -------
    >>> import soundfile, numpy
    >>> path = getfixture("tmpdir").join("tone.wav").strpath
    >>> soundfile.write(path, numpy.zeros((8000, 2)), 8000)
    >>> load_audio(path).shape  # stereo 8 kHz -> mono 16 kHz
    torch.Size([16000])
    """
    if not os.path.isfile(path):
        raise AudioError(f"{path}: file not found")
    if os.path.getsize(path) == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    try:
        signal, file_rate = audio_io.load(path)  # [channels, samples]
    except Exception as error:  # soundfile raises several types
        raise unreadable(path, error) from None
    return checked_mono(signal, file_rate, sample_rate, path, resample)


def unreadable(name, error):
    """The ``AudioError`` for audio that the decoder rejected.

    Arguments
    ---------
    name : str
        File (or shard member) name.
    error : Exception
        The decoder's exception.

    Returns
    -------
    AudioError
        The error to raise.

    Example
    -------
    >>> unreadable("a.wav", RuntimeError("Format not recognised."))
    AudioError('a.wav: not readable as audio (RuntimeError: Format not recognised.)')
    """
    detail = str(error).strip() or "unknown format"
    return AudioError(f"{name}: not readable as audio ({type(error).__name__}: {detail})")


def checked_mono(signal, file_rate, sample_rate, name, resample=True):
    """Downmix decoded audio, reject empty or non-finite data, resample.

    Arguments
    ---------
    signal : torch.Tensor
        Decoded samples ``[channels, samples]``.
    file_rate : int
        Sample rate of the decoded audio.
    sample_rate : int
        Rate the caller needs.
    name : str
        File (or shard member) name, for error messages.
    resample : bool
        Resample another rate (True) or raise an ``AudioError`` (False).

    Returns
    -------
    torch.Tensor
        Mono float32 waveform ``[samples]`` at ``sample_rate``.

    Example
    -------
    >>> checked_mono(torch.ones(2, 800), 8000, 16000, "x.wav").shape
    torch.Size([1600])
    """
    if signal.numel() == 0:
        raise AudioError(f"{name}: contains no samples")
    signal = signal.float().mean(dim=0)
    if not torch.isfinite(signal).all():
        raise AudioError(f"{name}: contains NaN or Inf samples")
    if file_rate != sample_rate:
        if not resample:
            raise AudioError(
                f"{name}: sample rate {file_rate} Hz, expected {sample_rate} Hz"
            )
        signal = torchaudio.functional.resample(signal, file_rate, sample_rate)
    return signal
