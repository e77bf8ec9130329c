"""Audio loading with clear errors: one reader for prepare, training and tagging.

Reads any format libsndfile knows (wav, flac, ogg, mp3) through SpeechBrain's
``audio_io`` (soundfile underneath; torchaudio's loader needs FFmpeg), downmixes
multi-channel audio by averaging, and resamples to the model's rate with
``torchaudio.functional.resample``. Every failure is an ``AudioError`` whose
message starts with the file path and says what is wrong.

Arrays that users hand to the tagger go through ``mono_waveform``: the same
downmix and resampling, from a sample rate the caller must give (a keyword,
or HuggingFace's ``{"raw"/"array": ..., "sampling_rate": ...}`` dict).

Authors
 * speechbrain-ast contributors 2026
"""

import os

import numpy
import torch
import torchaudio
from speechbrain.dataio import audio_io

# One 25 ms Kaldi window at 16 kHz: the shortest clip that gives one frame.
MIN_SAMPLES = 400
# Peak amplitude below which a clip is silent: what the CustomData and SSL
# skip lists use by default, and what tagging flags as "silent".
SILENCE_THRESHOLD = 1e-4
# Keys of an array in HuggingFace's dict forms: the audio-classification
# pipeline's input ("raw") and a datasets ``Audio`` column ("array").
ARRAY_KEYS = ("raw", "array")


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


def mono_waveform(audio, sample_rate, target_rate, name="<waveform>"):
    """A user's array as a mono float32 waveform at ``target_rate``.

    The rate is never guessed: it comes from ``sample_rate`` or from the
    HuggingFace dict forms ``{"raw": array, "sampling_rate": rate}``
    (audio-classification pipeline) and ``{"array": array, "sampling_rate":
    rate}`` (a datasets ``Audio`` column). A 2-D array is multi-channel and
    its shorter axis holds the channels, so both torchaudio's ``[C, S]`` and
    soundfile's ``[S, C]`` work (rows are channels when the axes are
    equal); channels are averaged, as files are (``checked_mono``).

    Arguments
    ---------
    audio : torch.Tensor, numpy.ndarray, list or dict
        Float samples ``[S]``, ``[C, S]`` or ``[S, C]``, or one of the dicts
        above.
    sample_rate : int or None
        Rate of ``audio`` in Hz (None: only allowed with a dict that has it).
    target_rate : int
        Rate the model needs.
    name : str
        What error messages call the audio.

    Returns
    -------
    torch.Tensor
        Mono float32 waveform ``[S']`` at ``target_rate``.

    Raises
    ------
    TypeError
        No sample rate was given.
    ValueError
        Contradicting rates, integer samples, more than 2 dimensions, or an
        ``AudioError`` (no samples, NaN or Inf).

    Example
    -------
    >>> stereo = torch.zeros(44100, 2)  # 1 s at 44.1 kHz, [S, C] as soundfile
    >>> mono_waveform(stereo, 44100, 16000).shape
    torch.Size([16000])
    >>> mono_waveform({"raw": torch.zeros(8000), "sampling_rate": 8000}, None, 16000).shape
    torch.Size([16000])
    >>> mono_waveform(torch.zeros(16000), None, 16000)
    Traceback (most recent call last):
    ...
    TypeError: <waveform>: the sample rate of the audio is needed: pass sample_rate=... (this model expects 16000 Hz), or {'raw': array, 'sampling_rate': rate}
    """
    if isinstance(audio, dict):
        audio, sample_rate = _unpack_dict(audio, sample_rate, name)
    rate = required_rate(sample_rate, target_rate, name, dict_form=True)
    if isinstance(audio, (list, tuple)):
        audio = torch.tensor(audio, dtype=torch.float32)
    elif not isinstance(audio, torch.Tensor):
        audio = numpy.ascontiguousarray(audio)  # torch rejects negative strides
    signal = torch.as_tensor(audio)
    if not (signal.is_floating_point() or signal.numel() == 0):
        # Integer PCM would reach the model at 32768 times its scale.
        raise ValueError(
            f"{name}: {signal.dtype} samples; give float samples in [-1, 1] "
            "(e.g. int16 PCM / 32768)"
        )
    if signal.ndim > 2:
        raise ValueError(
            f"{name}: expected samples [S], [C, S] or [S, C], got shape "
            f"{list(signal.shape)}"
        )
    signal = signal.detach().cpu().float()
    if signal.ndim < 2:
        signal = signal.reshape(1, -1)
    elif signal.shape[0] > signal.shape[1]:
        signal = signal.T  # [S, C] -> [C, S]
    return checked_mono(signal, rate, target_rate, name)


def _unpack_dict(audio, sample_rate, name):
    """``(array, rate)`` of a HuggingFace audio dict; the rates must agree."""
    keys = [key for key in ARRAY_KEYS if key in audio]
    if len(keys) != 1 or "sampling_rate" not in audio:
        raise ValueError(
            f"{name}: an audio dict needs one of {list(ARRAY_KEYS)} and "
            f"'sampling_rate' (got keys {sorted(audio)})"
        )
    rate = audio["sampling_rate"]
    if sample_rate is not None and _checked_rate(sample_rate, name) != _checked_rate(
        rate, name
    ):
        raise ValueError(
            f"{name}: sample_rate={sample_rate} contradicts the dict's "
            f"sampling_rate={rate}"
        )
    return audio[keys[0]], rate


def required_rate(sample_rate, target_rate, name="<waveform>", dict_form=False):
    """The caller's sample rate as an int; a clear error when it is missing.

    Arguments
    ---------
    sample_rate : int or None
        The rate the caller gave.
    target_rate : int
        The model's rate (named in the error).
    name : str
        What the error calls the audio.
    dict_form : bool
        The error also offers HuggingFace's dict form.

    Returns
    -------
    int
        The rate in Hz.

    Raises
    ------
    TypeError
        ``sample_rate`` is None.
    ValueError
        Not a positive whole number.

    Example
    -------
    >>> required_rate(44100.0, 16000)
    44100
    >>> required_rate(None, 16000, "batch")
    Traceback (most recent call last):
    ...
    TypeError: batch: the sample rate of the audio is needed: pass sample_rate=... (this model expects 16000 Hz)
    """
    if sample_rate is None:
        offer = ", or {'raw': array, 'sampling_rate': rate}" if dict_form else ""
        raise TypeError(
            f"{name}: the sample rate of the audio is needed: pass "
            f"sample_rate=... (this model expects {target_rate} Hz){offer}"
        )
    return _checked_rate(sample_rate, name)


def _checked_rate(sample_rate, name):
    """A sample rate as a positive int, or a ``ValueError``."""
    try:
        rate = int(sample_rate)
        ok = rate == sample_rate and rate > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"{name}: sample rate must be a positive whole number of Hz, "
            f"got {sample_rate!r}"
        )
    return rate


def too_short_reason(n_samples, sample_rate):
    """Why a clip is too short for one 25 ms analysis window, or None.

    The rule of the training skip list (``probe_audio``): fewer samples
    than ``MIN_SAMPLES`` at 16 kHz, scaled to ``sample_rate``.

    Arguments
    ---------
    n_samples : int
        Samples per channel.
    sample_rate : int
        Their rate.

    Returns
    -------
    str or None
        The reason, or None for a clip of at least 25 ms.

    Example
    -------
    >>> too_short_reason(304, 16000)  # 19 ms
    'too short (304 samples at 16000 Hz; need 25 ms)'
    >>> too_short_reason(400, 16000) is None
    True
    """
    if n_samples * 16000 < MIN_SAMPLES * sample_rate:
        return f"too short ({n_samples} samples at {sample_rate} Hz; need 25 ms)"
    return None
