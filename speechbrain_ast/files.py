"""Atomic file writes: a file is either its old self or completely new.

Manifests, shards, model folders and checkpoints are written through
``atomic_write``: the content goes to a hidden temporary file in the same
folder (so the final rename stays on one file system) and replaces the target
with ``os.replace`` only when the writing code finished without an error. A
failure, a full disk or an interrupt leaves the previous file untouched and
no temporary file behind.

Several files that must change together are written with one
``contextlib.ExitStack`` holding an ``atomic_write`` per file: nothing is
replaced unless every file was written (see the example of
``atomic_write``).

Authors
 * speechbrain-ast contributors 2026
"""

import contextlib
import os

_WRITE_MODES = ("w", "wb")


@contextlib.contextmanager
def atomic_write(path, mode="w", **open_kwargs):
    """Open ``path`` for writing; it is replaced only if the block succeeds.

    Arguments
    ---------
    path : str
        The file to write (its folder must exist).
    mode : str
        ``"w"`` (text, UTF-8 unless ``encoding`` is given) or ``"wb"``.
    **open_kwargs
        Passed to ``open`` (``newline``, ``encoding``, ...).

    Yields
    ------
    file object
        The open temporary file.

    Example
    -------
    >>> import contextlib
    >>> folder = getfixture("tmpdir")
    >>> path = folder.join("classes.txt").strpath
    >>> with atomic_write(path) as handle:
    ...     _ = handle.write("dog\\n")
    >>> try:
    ...     with atomic_write(path) as handle:
    ...         _ = handle.write("half a")
    ...         raise RuntimeError("disk full")
    ... except RuntimeError:
    ...     pass
    >>> open(path).read(), os.listdir(folder.strpath)
    ('dog\\n', ['classes.txt'])
    >>> with contextlib.ExitStack() as stack:  # several files, all or nothing
    ...     for name in ("a.txt", "b.txt"):
    ...         _ = stack.enter_context(
    ...             atomic_write(folder.join(name).strpath)
    ...         ).write(name)
    >>> sorted(os.listdir(folder.strpath))
    ['a.txt', 'b.txt', 'classes.txt']
    """
    if mode not in _WRITE_MODES:
        raise ValueError(
            f"atomic_write mode must be one of {_WRITE_MODES}, got {mode!r}"
        )
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    # Hidden (no manifest glob picks it up) and per process (no clash with a
    # concurrent writer of the same file).
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode, **open_kwargs) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
