"""Live tagging: audio from a byte stream (stdin, a pipe), one result per window.

``speechbrain-ast tag -`` reads a WAV stream (header, then samples; what
``arecord -t wav`` and ``sox ... -t wav -`` write) or headerless 16-bit
little-endian PCM with a given rate, cuts it into the same windows as
``AudioTagger.tag_waveform`` (window starts every hop; at the end of the
stream a last window aligned to the end, or the short clip if the stream was
shorter than one window) and tags each window as soon as its last sample has
arrived.

Bad input ends quickly with an ``AudioError`` that names the stream: an empty
stream, a stream that is neither WAV nor (with a rate) raw PCM, a header cut
short, an unsupported sample format, a ``--rate`` that contradicts the WAV
header, NaN samples. A stream whose data stops before the size its header
announced is tagged up to where it stopped, with a warning. A WAV stream at
another rate than the model's is resampled window by window. A window the
model cannot say anything about is flagged as a file is
(``TaggingResult.silent`` / ``too_short``): its peak is below
``SILENCE_THRESHOLD``, or it is shorter than one 25 ms frame.

Authors
 * speechbrain-ast contributors 2026
"""

import struct
import time
import warnings

import numpy
import torch
import torchaudio

from speechbrain_ast.audio import SILENCE_THRESHOLD, AudioError, too_short_reason

READ_BYTES = 1 << 16
# Header sizes that live writers (arecord, sox) put before the length is known.
UNKNOWN_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000)
# Largest chunk accepted before the data chunk: headers are small.
MAX_HEADER_CHUNK = 1 << 20
WAVE_FORMAT_PCM, WAVE_FORMAT_FLOAT, WAVE_FORMAT_EXTENSIBLE = 1, 3, 0xFFFE


def _read_exact(stream, n_bytes):
    """Read ``n_bytes`` (fewer only at the end of the stream)."""
    parts, missing = [], n_bytes
    while missing > 0:
        part = stream.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def _read_some(stream, n_bytes):
    """Whatever is available now, up to ``n_bytes`` (b"" at the end)."""
    read1 = getattr(stream, "read1", None)
    return read1(n_bytes) if read1 is not None else stream.read(n_bytes)


def _decoder(audio_format, bits, name):
    """A function from sample bytes to float32 values in [-1, 1]."""
    if audio_format == WAVE_FORMAT_FLOAT and bits in (32, 64):
        dtype = numpy.dtype("<f4" if bits == 32 else "<f8")
        return bits // 8, lambda data: numpy.frombuffer(data, dtype).astype("float32")
    if audio_format == WAVE_FORMAT_PCM and bits == 8:
        return (
            1,
            lambda data: (numpy.frombuffer(data, "u1").astype("float32") - 128) / 128,
        )
    if audio_format == WAVE_FORMAT_PCM and bits in (16, 32):
        dtype = numpy.dtype(f"<i{bits // 8}")
        scale = float(2 ** (bits - 1))
        return (
            bits // 8,
            lambda data: numpy.frombuffer(data, dtype).astype("float32") / scale,
        )

    if audio_format == WAVE_FORMAT_PCM and bits == 24:

        def decode24(data):
            raw = numpy.frombuffer(data, "u1").reshape(-1, 3).astype("int32")
            values = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
            values = numpy.where(values >= 1 << 23, values - (1 << 24), values)
            return values.astype("float32") / float(1 << 23)

        return 3, decode24
    kind = {WAVE_FORMAT_PCM: "integer PCM", WAVE_FORMAT_FLOAT: "float"}.get(
        audio_format, f"format code {audio_format}"
    )
    raise AudioError(
        f"{name}: unsupported WAV sample format ({kind}, {bits} bits); "
        "use 8/16/24/32-bit integer PCM or 32/64-bit float"
    )


class PcmStream:
    """Decoded mono samples of a WAV or raw 16-bit PCM byte stream.

    Use ``PcmStream.open``; iterate ``chunks()`` for the samples as they
    arrive.

    Arguments
    ---------
    stream : binary file object
        The stream, positioned at the first sample byte.
    name : str
        Name for messages (``<stdin>``).
    sample_rate : int
        Samples per second.
    channels : int
        Interleaved channels (averaged to mono).
    sample_bytes : int
        Bytes per sample of one channel.
    decode : callable
        Sample bytes to float32 values.
    data_bytes : int, optional
        Data size announced by the header (None: unknown, read to the end).
    head : bytes
        Sample bytes already read while detecting the format.

    Example
    -------
    >>> import io
    >>> raw = (numpy.arange(8, dtype="<i2") * 4096).tobytes()
    >>> pcm = PcmStream.open(io.BytesIO(raw), rate=8000)
    >>> pcm.sample_rate, torch.cat([chunk for chunk, _ in pcm.chunks()]).tolist()[:3]
    (8000, [0.0, 0.125, 0.25])
    """

    def __init__(
        self,
        stream,
        name,
        sample_rate,
        channels,
        sample_bytes,
        decode,
        data_bytes=None,
        head=b"",
    ):
        self.stream = stream
        self.name = name
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.frame_bytes = sample_bytes * self.channels
        self.decode = decode
        self.data_bytes = data_bytes
        self.head = head
        self.warnings = []

    @classmethod
    def open(cls, stream, rate=None, channels=1, name="<stdin>"):
        """Read the WAV header (or detect raw PCM) and return the stream.

        A stream that starts with ``RIFF``/``RF64`` is WAV; anything else is
        raw signed 16-bit little-endian PCM when ``rate`` is given, and an
        error otherwise. Only the first 12 bytes are needed to decide.

        Arguments
        ---------
        stream : binary file object
            E.g. ``sys.stdin.buffer``.
        rate : int, optional
            Sample rate of raw PCM; for WAV it must equal the header's.
        channels : int
            Channels of raw PCM (ignored for WAV).
        name : str
            Name for messages.

        Returns
        -------
        PcmStream
            Positioned at the first sample.

        Raises
        ------
        AudioError
            Empty, not audio, truncated header, unsupported format, or a
            ``rate`` that contradicts the header.

        Example
        -------
        >>> import io
        >>> PcmStream.open(io.BytesIO(b"hello, this is text"), name="in")
        Traceback (most recent call last):
        ...
        speechbrain_ast.audio.AudioError: in: not a WAV stream (starts with b'hello, this '); for raw 16-bit PCM give its rate (--rate)
        """
        head = _read_exact(stream, 12)
        if not head:
            raise AudioError(f"{name}: stream is empty (no bytes)")
        if head[:4] in (b"RIFF", b"RF64"):
            if len(head) < 12 or head[8:12] != b"WAVE":
                raise AudioError(
                    f"{name}: not a WAV stream (RIFF without WAVE) or header cut "
                    f"short after {len(head)} bytes"
                )
            return cls._open_wav(stream, rate, name)
        if rate is None:
            raise AudioError(
                f"{name}: not a WAV stream (starts with {head[:12]!r}); for raw "
                "16-bit PCM give its rate (--rate)"
            )
        if int(rate) < 1 or int(channels) < 1:
            raise AudioError(f"{name}: rate and channels must be >= 1")
        return cls(stream, name, rate, channels, 2, _decoder(1, 16, name)[1], head=head)

    @classmethod
    def _open_wav(cls, stream, rate, name):
        """Parse the chunks after ``RIFF....WAVE`` up to the data chunk."""
        fmt = None
        while True:
            header = _read_exact(stream, 8)
            if len(header) < 8:
                where = "before the data chunk" if fmt else "before the fmt chunk"
                raise AudioError(f"{name}: WAV header cut short ({where})")
            chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"data":
                break
            if size > MAX_HEADER_CHUNK:
                raise AudioError(
                    f"{name}: not a usable WAV stream (chunk {chunk_id!r} of "
                    f"{size} bytes before the data)"
                )
            body = _read_exact(stream, size + (size & 1))
            if len(body) < size:
                raise AudioError(
                    f"{name}: WAV header cut short (in chunk {chunk_id!r})"
                )
            if chunk_id == b"fmt ":
                if size < 16:
                    raise AudioError(f"{name}: WAV fmt chunk too short ({size} bytes)")
                fmt = struct.unpack("<HHIIHH", body[:16])
                if fmt[0] == WAVE_FORMAT_EXTENSIBLE and size >= 26:
                    # the sub-format GUID starts with the real format code
                    fmt = (struct.unpack("<H", body[24:26])[0],) + fmt[1:]
        if fmt is None:
            raise AudioError(f"{name}: WAV stream has no fmt chunk before its data")
        audio_format, channels, file_rate, _, _, bits = fmt
        if channels < 1 or file_rate < 1:
            raise AudioError(
                f"{name}: WAV header says {channels} channels at {file_rate} Hz"
            )
        if rate is not None and int(rate) != file_rate:
            raise AudioError(
                f"{name}: rate mismatch: --rate {rate} but the WAV header says "
                f"{file_rate} Hz (leave out --rate for WAV input)"
            )
        sample_bytes, decode = _decoder(audio_format, bits, name)
        data_bytes = None if size in UNKNOWN_SIZES else size
        return cls(stream, name, file_rate, channels, sample_bytes, decode, data_bytes)

    def chunks(self, max_bytes=READ_BYTES):
        """Mono samples as they arrive, until the end of the stream.

        Arguments
        ---------
        max_bytes : int
            Largest read.

        Yields
        ------
        samples : torch.Tensor
            Float32 mono samples ``[n]`` (n >= 1).
        arrived : float
            ``time.monotonic()`` when the bytes were read.
        """
        pending, received = self.head, len(self.head)
        while True:
            limit = max_bytes
            if self.data_bytes is not None:
                limit = min(limit, self.data_bytes - received)
            data = _read_some(self.stream, limit) if limit > 0 else b""
            arrived = time.monotonic()
            if not data:
                break
            received += len(data)
            pending += data
            usable = len(pending) - len(pending) % self.frame_bytes
            if usable:
                samples = self._to_mono(pending[:usable])
                pending = pending[usable:]
                yield samples, arrived
        if pending:
            self.warnings.append(
                f"{self.name}: stream ended inside a sample; {len(pending)} "
                "trailing bytes ignored"
            )
        if self.data_bytes is not None and received < self.data_bytes:
            self.warnings.append(
                f"{self.name}: stream truncated: {received} of the {self.data_bytes} "
                "data bytes its header announced; tagged what arrived"
            )

    def _to_mono(self, data):
        values = self.decode(data).reshape(-1, self.channels).mean(axis=1)
        if not numpy.isfinite(values).all():
            raise AudioError(f"{self.name}: contains NaN or Inf samples")
        return torch.from_numpy(numpy.ascontiguousarray(values))


class WindowCutter:
    """Cut a growing signal into the windows of ``windows.window_starts``.

    ``push`` returns each window as soon as its last sample is in;
    ``finish`` returns the window that ``window_starts`` adds for the end of
    the signal (aligned to the end), or the whole signal if it is shorter
    than one window. Only the samples still needed are kept.

    Arguments
    ---------
    window : int
        Window length in samples.
    hop : int
        Hop in samples, ``0 < hop <= window``.

    Example
    -------
    >>> cutter = WindowCutter(window=4, hop=2)
    >>> [start for start, _ in cutter.push(torch.arange(7.0))]
    [0, 2]
    >>> [(start, wav.tolist()) for start, wav in cutter.finish()]
    [(3, [3.0, 4.0, 5.0, 6.0])]
    """

    def __init__(self, window, hop):
        if not 0 < hop <= window:
            raise ValueError(f"hop ({hop}) must be in (0, window={window}]")
        self.window, self.hop = int(window), int(hop)
        self.buffer = torch.zeros(0)
        self.buffer_start = 0  # sample index of buffer[0]
        self.n_samples = 0
        self.next_start = 0
        self.last_start = None

    def push(self, samples):
        """Add samples; return the ``(start, window)`` pairs now complete."""
        self.buffer = torch.cat([self.buffer, torch.as_tensor(samples).float()])
        self.n_samples += len(samples)
        ready = []
        while self.next_start + self.window <= self.n_samples:
            offset = self.next_start - self.buffer_start
            ready.append((self.next_start, self.buffer[offset : offset + self.window]))
            self.last_start = self.next_start
            self.next_start += self.hop
        keep_from = max(0, min(self.next_start, self.n_samples - self.window))
        if keep_from > self.buffer_start:
            self.buffer = self.buffer[keep_from - self.buffer_start :].clone()
            self.buffer_start = keep_from
        return ready

    def finish(self):
        """The end-aligned last window (or the short signal); [] if none."""
        if self.n_samples == 0:
            return []
        if self.last_start is None:
            return [(0, self.buffer[-self.n_samples :])]
        if self.last_start + self.window < self.n_samples:
            start = self.n_samples - self.window
            return [(start, self.buffer[start - self.buffer_start :])]
        return []


def tag_stream(
    tagger,
    stream,
    rate=None,
    channels=1,
    window_seconds=None,
    hop_seconds=None,
    top_k=5,
    threshold=None,
    name="<stdin>",
    max_bytes=READ_BYTES,
    on_warning=None,
):
    """Tag a live byte stream window by window (see the module doc).

    Arguments
    ---------
    tagger : AudioTagger
        The model.
    stream : binary file object
        WAV or raw 16-bit PCM bytes (e.g. ``sys.stdin.buffer``).
    rate : int, optional
        Sample rate of raw PCM (required for it; for WAV, must match).
    channels : int
        Channels of raw PCM.
    window_seconds, hop_seconds : float, optional
        As in ``AudioTagger.tag_waveform`` (default: model input, half of it).
    top_k : int, optional
        Labels per window (None: all).
    threshold : float, optional
        Keep labels with at least this score.
    name : str
        Stream name for messages.
    max_bytes : int
        Largest single read.
    on_warning : callable, optional
        Called with each warning (a truncated stream, a partial last
        sample), before the end-of-stream window; default
        ``warnings.warn``.

    Yields
    ------
    dict
        ``{"start", "end", "labels", "final", "silent", "too_short",
        "arrived"}``: times in seconds of the stream, ``(label, score)``
        pairs, whether this is the window added at the end of the stream,
        whether the window is silent (peak below ``SILENCE_THRESHOLD``: its
        labels mean nothing) or shorter than a 25 ms frame, and the
        ``time.monotonic()`` at which its last sample was read.

    Raises
    ------
    AudioError
        Bad stream (see ``PcmStream.open``) or no samples at all.

    Example
    -------
    >>> import io, soundfile
    >>> from speechbrain_ast.tagging.tagger import AudioTagger
    >>> from tests.helpers import tiny_model_folder
    >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
    >>> wav = io.BytesIO()
    >>> soundfile.write(wav, 0.1 * numpy.random.randn(40000), 16000, format="WAV")
    >>> _ = wav.seek(0)
    >>> [(w["start"], w["end"]) for w in tag_stream(tagger, wav, top_k=1)]
    [(0.0, 1.295), (0.6475, 1.9425), (1.205, 2.5)]
    >>> quiet = io.BytesIO()
    >>> soundfile.write(quiet, numpy.zeros(16000), 16000, format="WAV")
    >>> _ = quiet.seek(0)
    >>> [w["silent"] for w in tag_stream(tagger, quiet, top_k=1)]
    [True]
    """
    model_rate = tagger.sample_rate
    window, hop = tagger.window_hop_samples(window_seconds, hop_seconds)
    # one forward pass before any audio arrives: the first call of a model
    # is slower (allocations), and the first window must not wait for it
    tagger.score_batch(torch.zeros(1, window))
    pcm = PcmStream.open(stream, rate=rate, channels=channels, name=name)
    stream_rate = pcm.sample_rate
    if stream_rate != model_rate:
        # cut at the stream's rate, resample each window to the model's
        window_in = max(1, round(window * stream_rate / model_rate))
        hop_in = min(window_in, max(1, round(hop * stream_rate / model_rate)))
    else:
        window_in, hop_in = window, hop
    cutter = WindowCutter(window_in, hop_in)
    shortest = getattr(tagger.mods.compute_features, "window_size", 400)

    def score(batch):
        waves = []
        for _, samples in batch:
            if stream_rate != model_rate:
                samples = torchaudio.functional.resample(
                    samples, stream_rate, model_rate
                )
            if samples.numel() < shortest:
                samples = torch.nn.functional.pad(
                    samples, (0, shortest - samples.numel())
                )
            waves.append(samples)
        if len({wave.numel() for wave in waves}) == 1:
            return tagger.score_batch(torch.stack(waves))
        return torch.cat([tagger.score_batch(wave[None]) for wave in waves])

    def results(batch, arrived, final=False):
        scores = score(batch).cpu()
        for (start, samples), row in zip(batch, scores):
            yield {
                "start": round(start / stream_rate, 4),
                "end": round((start + samples.numel()) / stream_rate, 4),
                "labels": tagger.select(row, top_k, threshold),
                "final": final,
                # the rules that flag a silent or too short file
                "silent": float(samples.abs().max()) < SILENCE_THRESHOLD,
                "too_short": too_short_reason(samples.numel(), stream_rate) is not None,
                "arrived": arrived,
            }

    arrived = None
    for samples, arrived in pcm.chunks(max_bytes):
        ready = cutter.push(samples)
        if ready:
            yield from results(ready, arrived)
    for message in pcm.warnings:
        (on_warning or warnings.warn)(message)
    if cutter.n_samples == 0:
        raise AudioError(f"{name}: contains no samples")
    last = cutter.finish()
    if last:
        yield from results(last, arrived, final=True)
