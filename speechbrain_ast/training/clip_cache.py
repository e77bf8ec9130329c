"""Decoded clips kept in memory between epochs, up to a size budget.

A small dataset trained for tens of epochs on a CPU spends a large share of
each epoch decoding (and resampling) the same files again: 10-25 % of an
ESC-50 epoch of the small from-scratch model was measured waiting for data.
``CachedClipLoader`` wraps a clip loader (such as
``speechbrain_ast.training.dataio.load_training_clip``) and keeps the decoded
waveforms of the first clips it sees until ``max_megabytes`` is reached; the
rest are decoded each time, as before. It only helps with ``num_workers: 0``
(worker processes each have their own copy), which is what the CPU recipes
use. Errors are not cached: a bad file raises every time it is read.

Authors
 * speechbrain-ast contributors 2026
"""

import threading


class CachedClipLoader:
    """Call ``load(path, sample_rate)`` once per path while the budget lasts.

    Arguments
    ---------
    load : callable
        ``load(path, sample_rate) -> torch.Tensor``.
    max_megabytes : float
        Memory budget for cached waveforms (0 disables the cache).

    Example
    -------
    >>> import torch
    >>> calls = []
    >>> def load(path, sample_rate):
    ...     calls.append(path)
    ...     return torch.zeros(16000)
    >>> cached = CachedClipLoader(load, max_megabytes=0.1)  # room for one clip
    >>> _ = cached("a.wav", 16000), cached("a.wav", 16000), cached("b.wav", 16000)
    >>> _ = cached("b.wav", 16000)
    >>> calls
    ['a.wav', 'b.wav', 'b.wav']
    >>> cached.cached_clips, round(cached.cached_megabytes, 3)
    (1, 0.064)
    """

    def __init__(self, load, max_megabytes=2048):
        self.load = load
        self.max_bytes = int(max_megabytes * 1e6)
        self.cache = {}
        self.used_bytes = 0
        self.lock = threading.Lock()

    @property
    def cached_clips(self):
        """Number of clips held in memory."""
        return len(self.cache)

    @property
    def cached_megabytes(self):
        """Memory held by the cached waveforms, in MB."""
        return self.used_bytes / 1e6

    def __call__(self, path, sample_rate):
        """Return the waveform of ``path`` at ``sample_rate`` (from memory when cached)."""
        key = (path, sample_rate)
        with self.lock:
            if key in self.cache:
                return self.cache[key]
        signal = self.load(path, sample_rate)
        size = signal.element_size() * signal.nelement()
        with self.lock:
            if self.used_bytes + size <= self.max_bytes:
                self.cache[key] = signal
                self.used_bytes += size
        return signal
