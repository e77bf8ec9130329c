"""Checks of user-supplied clips: which files are audio, and are their samples usable.

The CustomData and SSL recipes take any folder of sound files. They find
the audio files in it with ``audio_files`` (the one audio-file rule of
:mod:`speechbrain_ast.audio_files`, imported here for them), and these
helpers read their samples to reject the ones the model cannot learn from:
unreadable, containing NaN or Inf, or silent. The header-level checks
(missing, empty, truncated, shorter than one window) are
:func:`speechbrain_ast.training.preparation.probe_audio`.

Authors
 * speechbrain-ast contributors 2026
"""

import numpy as np
import soundfile

from speechbrain_ast.audio_files import audio_files  # noqa: F401 (recipes use it)

NAN_REASON = "contains NaN or Inf samples"


def scan_samples(path, block_seconds=None):
    """Decode a file and measure its samples, or say why they are not usable.

    Arguments
    ---------
    path : str
        Audio file (already probed with ``probe_audio``).
    block_seconds : int, optional
        Read this many seconds at a time, so any length fits in memory, and
        stop at the first block with NaN or Inf; None reads the whole file
        at once.

    Returns
    -------
    tuple
        ``((frames, sample_rate, peak), None)``, ``frames`` being the samples
        decoded per channel and ``peak`` the largest absolute amplitude, or
        ``(None, reason)``.

    Example
    -------
    >>> import numpy
    >>> path = getfixture("tmpdir").join("a.wav").strpath
    >>> soundfile.write(path, numpy.full(8000, 0.5), 16000)
    >>> scan_samples(path, block_seconds=1)
    ((8000, 16000, 0.5), None)
    >>> soundfile.write(path, numpy.full(8000, numpy.nan), 16000, subtype="FLOAT")
    >>> scan_samples(path)
    (None, 'contains NaN or Inf samples')
    """
    frames, peak = 0, 0.0
    try:
        with soundfile.SoundFile(path) as audio:
            rate = audio.samplerate
            if block_seconds is None:
                blocks = [audio.read(dtype="float32", always_2d=True)]
            else:
                blocks = audio.blocks(
                    blocksize=block_seconds * rate, dtype="float32", always_2d=True
                )
            for block in blocks:
                if not np.isfinite(block).all():
                    return None, NAN_REASON
                frames += len(block)
                peak = max(peak, float(np.abs(block).max(initial=0.0)))
    except Exception as error:  # libsndfile raises several types
        return None, f"not readable as audio ({type(error).__name__}: {error})"
    return (frames, rate, peak), None


def silence_reason(peak, silence_threshold):
    """The skip reason of a clip whose peak is below ``silence_threshold``.

    Arguments
    ---------
    peak : float
        Largest absolute amplitude (:func:`scan_samples`).
    silence_threshold : float
        Peak amplitude below which a clip counts as silent.

    Returns
    -------
    str or None
        The reason, or None for a clip that is not silent.

    Example
    -------
    >>> silence_reason(0.0, 1e-4)
    'silent (peak amplitude 0 below 0.0001)'
    >>> silence_reason(0.5, 1e-4) is None
    True
    """
    if peak < silence_threshold:
        return f"silent (peak amplitude {peak:.3g} below {silence_threshold:g})"
    return None
