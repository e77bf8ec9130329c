"""Features: batched ``KaldiFbank`` against the per-clip torchaudio loop and HF.

Clips/s for ``--feature-clips`` clips of 60-100 % of the input length
(realistic padding): our batched ``KaldiFbank`` (on the benchmark device),
the per-clip ``torchaudio.compliance.kaldi.fbank`` loop of the official AST
dataloader and HF's ``ASTFeatureExtractor`` (both on the CPU, as they run in
a data loader), with the largest difference to the loop. On CPU also a
``chunk_frames`` sweep of ``KaldiFbank``.
"""

import torch
import torch.nn.functional as F

from benchmarks.measure import interleaved
from benchmarks.peers import SAMPLE_RATE, SECONDS_TO_FRAMES
from speechbrain_ast.features import NORM_STATS, KaldiFbank

LOOP = "torchaudio per-clip loop"
BATCHED = "ours batched (KaldiFbank)"


def official_fbank(wavs, counts, n_frames):
    """The official AST dataloader's (and HF's extractor's) way: clip by clip.

    ``torchaudio.compliance.kaldi.fbank`` of each clip's first ``counts[i]``
    samples (clip mean removed), padded with 0 or cut to ``n_frames``.

    Arguments
    ---------
    wavs : torch.Tensor
        Waveforms ``[B, S]`` (16 kHz).
    counts : torch.Tensor
        Samples of each clip ``[B]``.
    n_frames : int
        Output frames.

    Returns
    -------
    torch.Tensor
        Features ``[B, n_frames, 128]``.
    """
    from torchaudio.compliance import kaldi

    out = []
    for wav, count in zip(wavs, counts.tolist()):
        wav = wav[:count]
        feats = kaldi.fbank(
            (wav - wav.mean()).unsqueeze(0),
            htk_compat=True,
            sample_frequency=SAMPLE_RATE,
            use_energy=False,
            window_type="hanning",
            num_mel_bins=128,
            dither=0.0,
            frame_shift=10,
        )
        out.append(F.pad(feats, (0, 0, 0, max(n_frames - len(feats), 0)))[:n_frames])
    return torch.stack(out)


def run(bench):
    import transformers

    extractor = transformers.ASTFeatureExtractor(
        max_length=1024,
        mean=NORM_STATS["audioset"][0],
        std=NORM_STATS["audioset"][1],
    )
    for seconds in bench.args.seconds:
        feature_case(bench, seconds, extractor)


def feature_case(bench, seconds, extractor):

    args = bench.args
    n_clips = args.feature_clips
    n_frames = SECONDS_TO_FRAMES[seconds]
    bench.log(f"[features] {seconds} s, {n_clips} clips")
    torch.manual_seed(0)
    n_samples = seconds * SAMPLE_RATE
    # Lengths from 60 % to 100 % of the longest: padding is realistic.
    counts = (torch.linspace(0.6, 1.0, n_clips) * n_samples).round().long()
    wavs = 0.1 * torch.randn(n_clips, n_samples)
    for i, count in enumerate(counts.tolist()):
        wavs[i, count:] = 0.0
    clips_np = [wavs[i, :c].numpy() for i, c in enumerate(counts.tolist())]
    wavs = wavs.to(bench.device)
    lens = (counts.float() / n_samples).to(bench.device)
    extractor.max_length = n_frames
    batched = KaldiFbank(n_frames=n_frames).to(bench.device)
    one_block = KaldiFbank(n_frames=n_frames, chunk_frames=None).to(bench.device)

    def loop():
        return official_fbank(wavs, counts, n_frames)

    def hf():
        return extractor(clips_np, sampling_rate=SAMPLE_RATE, return_tensors="pt")[
            "input_values"
        ]

    fns = {
        "ours batched (KaldiFbank)": lambda: batched(wavs, lens),
        "torchaudio per-clip loop": loop,
        "HF ASTFeatureExtractor": hf,
    }
    if not bench.cuda:
        fns["ours batched, one block"] = lambda: one_block(wavs, lens)
    with torch.no_grad():
        diff = float((batched(wavs, lens) - loop()).abs().max())
        res = interleaved(fns, bench.device, args.repeats, args.warmup, memory=False)
    for name, row in res.items():
        bench.results["features"].append(
            {
                "seconds": seconds,
                "clips": n_clips,
                "peer": name,
                "device": "cpu" if name.startswith("HF") else str(bench.device),
                "clips_s": n_clips / row["s"],
                "all_s": row["all_s"],
                "max_abs_vs_loop": diff if name.startswith("ours") else None,
            }
        )
    if bench.cuda or seconds != max(args.seconds):
        return
    chunks = {
        str(chunk): KaldiFbank(n_frames=n_frames, chunk_frames=chunk)
        for chunk in args.fbank_chunks
    }
    with torch.no_grad():
        res = interleaved(
            {name: (lambda m=m: m(wavs, lens)) for name, m in chunks.items()},
            bench.device,
            args.repeats,
            args.warmup,
            memory=False,
        )
    for name, row in res.items():
        bench.results["fbank_chunks"].append(
            {
                "seconds": seconds,
                "chunk_frames": name,
                "clips_s": n_clips / row["s"],
            }
        )


def targets(results):
    """The issue's CPU target: batched fbank >= 1.0x the per-clip loop."""
    feats = {(r["seconds"], r["peer"]): r for r in results["features"]}
    ratios = [
        (feats[(sec, BATCHED)]["clips_s"] / feats[(sec, LOOP)]["clips_s"], sec)
        for sec in sorted({key[0] for key in feats})
    ]
    if not ratios:
        return []
    return [
        {
            "target": "batched fbank >= 1.0x per-clip torchaudio loop",
            "measured": ", ".join(f"{sec} s: {r:.2f}x" for r, sec in ratios),
            "met": min(ratios)[0] >= 1.0,
        }
    ]


def render(bench):
    """Markdown lines: features and the chunk sweep."""
    res, lines = bench.results, []
    if res["features"]:
        lines += [
            f"**Features** ({res['features'][0]['clips']} clips per call, lengths "
            "60-100 % of the longest; clips/s; x = ratio to the per-clip loop)",
            "",
            "| audio | peer | device | clips/s | x | max abs diff vs loop |",
            "|---|---|---|---|---|---|",
        ]
        by = {(r["seconds"], r["peer"]): r for r in res["features"]}
        for r in res["features"]:
            ref = by[(r["seconds"], "torchaudio per-clip loop")]
            diff = r["max_abs_vs_loop"]
            lines.append(
                f"| {r['seconds']} s | {r['peer']} | {r['device']} | "
                f"{r['clips_s']:.1f} | {r['clips_s'] / ref['clips_s']:.2f} | "
                + ("-" if diff is None else f"{diff:.1e}")
                + " |"
            )
        lines.append("")
    if res["fbank_chunks"]:
        sec = res["fbank_chunks"][0]["seconds"]
        lines += [
            f"**KaldiFbank `chunk_frames` on CPU** ({sec} s clips)",
            "",
            "| chunk_frames | clips/s |",
            "|---|---|",
        ]
        lines += [
            f"| {r['chunk_frames']} | {r['clips_s']:.1f} |" for r in res["fbank_chunks"]
        ]
        lines.append("")
    return lines
