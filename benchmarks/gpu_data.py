#!/usr/bin/env python
"""ESC-50 for a GPU machine that only receives the repository: a compact bundle.

The device machine of ``make gpu-check`` gets the working tree and a few
carried folders, 64 MiB in all, and no network. ESC-50 at 16 kHz is 320 MB of
wav (170 MB of FLAC), so ``pack`` stores each clip as Ogg Vorbis (lossy;
``--quality`` 0.9 makes about 36 MB for the 2,000 clips, a mean log-mel
change of about 0.06 in normalised units) in one uncompressed tar with
``meta/esc50.csv``. ``unpack`` decodes it back, in parallel, into the
official layout (``ESC-50-master/audio/*.wav``, 16 kHz, 16-bit), which
``recipes/ESC50/esc50_prepare.py`` reads unchanged.

Usage::

    python benchmarks/gpu_data.py pack --src ESC-50-master --out .gpu/esc50_vorbis.tar
    python benchmarks/gpu_data.py unpack .gpu/esc50_vorbis.tar results/esc50_data

Authors
 * speechbrain-ast contributors 2026
"""

import argparse
import csv
import io
import os
import tarfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile

LAYOUT = "ESC-50-master"


def _encode(path, quality):
    audio, rate = soundfile.read(path, dtype="float32")
    buffer = io.BytesIO()
    soundfile.write(
        buffer, audio, rate, format="OGG", subtype="VORBIS", compression_level=quality
    )
    return buffer.getvalue()


def pack(src, out, quality=0.9, limit=None, workers=None):
    """Write the bundle ``out`` from an official ESC-50 layout ``src``.

    Arguments
    ---------
    src : str
        ``ESC-50-master/`` (``audio/*.wav`` + ``meta/esc50.csv``).
    out : str
        The tar file to write.
    quality : float
        Vorbis ``compression_level`` in [0, 1] (1: smallest).
    limit : int, optional
        Keep only the first clips of the metadata (tests).
    workers : int, optional
        Encoding processes.

    Returns
    -------
    int
        Number of clips packed.
    """
    src = Path(src)
    with open(src / "meta" / "esc50.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows = rows[:limit] if limit else rows
    paths = [src / "audio" / row["filename"] for row in rows]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} clips missing, e.g. {missing[0]}")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    meta = io.StringIO()
    writer = csv.DictWriter(meta, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with ProcessPoolExecutor(workers) as pool, tarfile.open(out + ".tmp", "w") as tar:
        _add(tar, f"{LAYOUT}/meta/esc50.csv", meta.getvalue().encode("utf-8"))
        encoded = pool.map(_encode, paths, [quality] * len(paths), chunksize=16)
        for row, data in zip(rows, encoded):
            name = Path(row["filename"]).with_suffix(".ogg").name
            _add(tar, f"{LAYOUT}/audio/{name}", data)
    os.replace(out + ".tmp", out)
    return len(rows)


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _decode(job):
    data, target = job
    audio, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    soundfile.write(target, audio, rate, subtype="PCM_16")


def unpack(bundle, dest, workers=None):
    """Decode a bundle into ``dest/ESC-50-master`` (official layout); return its path.

    Arguments
    ---------
    bundle : str
        A tar written by ``pack``.
    dest : str
        Folder to write ``ESC-50-master/`` into.
    workers : int, optional
        Decoding processes.

    Returns
    -------
    pathlib.Path
        The ``ESC-50-master`` folder.
    """
    root = Path(dest) / LAYOUT
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "meta").mkdir(parents=True, exist_ok=True)
    jobs = []
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()
            name = Path(member.name).name
            if name == "esc50.csv":
                (root / "meta" / name).write_bytes(data)
            elif name.endswith(".ogg"):
                jobs.append(
                    (data, str(root / "audio" / Path(name).with_suffix(".wav")))
                )
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_decode, jobs, chunksize=16))
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    pack_parser = sub.add_parser("pack", help="official layout -> bundle")
    pack_parser.add_argument("--src", required=True, help="ESC-50-master/")
    pack_parser.add_argument("--out", required=True, help="bundle (.tar) to write")
    pack_parser.add_argument("--quality", type=float, default=0.9)
    pack_parser.add_argument("--limit", type=int, default=None)
    unpack_parser = sub.add_parser("unpack", help="bundle -> official layout")
    unpack_parser.add_argument("bundle")
    unpack_parser.add_argument("dest")
    args = parser.parse_args(argv)
    if args.command == "pack":
        count = pack(args.src, args.out, args.quality, args.limit)
        size = os.path.getsize(args.out) / 2**20
        print(f"packed {count} clips into {args.out} ({size:.1f} MiB)")
    else:
        print(unpack(args.bundle, args.dest))


if __name__ == "__main__":
    main()
