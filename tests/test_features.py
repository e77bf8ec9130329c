"""Batched KaldiFbank against torchaudio's per-clip Kaldi fbank (the official way)."""

import pytest
import torch
import torch.nn.functional as F
import torchaudio

from speechbrain_ast.audio import load_audio
from speechbrain_ast.features import (
    NORM_STATS,
    FixedNormalization,
    KaldiFbank,
    compute_norm_stats,
)


def official_fbank(wav, n_frames):
    """Official AST features of one clip: clip mean removed, Kaldi fbank, pad/cut."""
    wav = wav - wav.mean()
    fbank = torchaudio.compliance.kaldi.fbank(
        wav.unsqueeze(0),
        htk_compat=True,
        sample_frequency=16000,
        use_energy=False,
        window_type="hanning",
        num_mel_bins=128,
        dither=0.0,
        frame_shift=10,
    )
    missing = n_frames - fbank.shape[0]
    return F.pad(fbank, (0, 0, 0, missing)) if missing > 0 else fbank[:n_frames]


@pytest.fixture(scope="module")
def real_clips(samples):
    """Real clips of different lengths: 5 s ESC-50, 2 s AudioSet-format, 1 s speech."""
    paths = [
        next((samples / "ESC-50-master" / "audio").glob("*.wav")),
        next((samples / "audioset" / "audio").glob("*.wav")),
        *sorted((samples / "speech_commands_v0.02" / "yes").glob("*.wav"))[:2],
    ]
    clips = [load_audio(str(path)) for path in paths]
    clips.append(clips[0][:12345])  # an odd length, not a whole number of hops
    return clips


def padded_batch(clips):
    longest = max(len(clip) for clip in clips)
    wavs = torch.stack([F.pad(clip, (0, longest - len(clip))) for clip in clips])
    lengths = torch.tensor([len(clip) / longest for clip in clips])
    return wavs, lengths


@pytest.mark.parametrize("n_frames", [128, 512, 1024])
@pytest.mark.parametrize("chunk_frames", [None, 300])
def test_batched_equals_per_clip_torchaudio(real_clips, n_frames, chunk_frames):
    wavs, lengths = padded_batch(real_clips)
    ours = KaldiFbank(n_frames=n_frames, chunk_frames=chunk_frames)(wavs, lengths)
    reference = torch.stack([official_fbank(clip, n_frames) for clip in real_clips])
    assert ours.shape == (len(real_clips), n_frames, 128)
    assert (ours - reference).abs().max() <= 1e-3


def test_without_target_length_gives_longest_clip_frames(real_clips):
    wavs, lengths = padded_batch(real_clips)
    feats = KaldiFbank()(wavs, lengths)
    assert feats.shape[1] == 1 + (wavs.shape[1] - 400) // 160  # Kaldi snip_edges
    # frames past a shorter clip's end are the official zero padding
    short = len(real_clips[2])
    assert torch.all(feats[2, 1 + (short - 400) // 160 :] == 0)


def test_fp32_inside_autocast(real_clips):
    wavs, lengths = padded_batch(real_clips[2:4])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats = KaldiFbank(n_frames=128)(wavs, lengths)
    assert feats.dtype == torch.float32
    assert torch.equal(feats, KaldiFbank(n_frames=128)(wavs, lengths))


def test_bad_waveforms_are_clear_errors():
    fbank = KaldiFbank(n_frames=128)
    nan = torch.zeros(2, 16000)
    nan[1, 5] = float("nan")
    with pytest.raises(ValueError, match=r"waveform\(s\) \[1\] contain NaN or Inf"):
        fbank(nan)
    with pytest.raises(ValueError, match="shorter than one 400-sample window"):
        fbank(torch.randn(1, 300))
    with pytest.raises(ValueError, match="expected waveforms"):
        fbank(torch.randn(1, 2, 16000))


def test_normalization_matches_official_constants():
    for dataset, (mean, std) in NORM_STATS.items():
        norm = FixedNormalization(dataset=dataset)
        x = torch.randn(2, 5, 128)
        assert torch.allclose(norm(x), (x - mean) / (2 * std))
    # padding (raw 0) after normalisation: the official constants 0.467/0.618/0.615
    assert round(FixedNormalization(dataset="audioset").normalized(0.0), 3) == 0.467
    assert round(FixedNormalization(dataset="esc50").normalized(0.0), 3) == 0.618
    assert round(FixedNormalization(dataset="speechcommands").normalized(0.0), 3) == 0.615
    with pytest.raises(ValueError, match="unknown dataset"):
        FixedNormalization(dataset="librispeech")


def test_norm_stats_are_global_mean_and_std(real_clips):
    mean, std = compute_norm_stats(real_clips[:3])
    feats = torch.cat([KaldiFbank()(clip.unsqueeze(0))[0] for clip in real_clips[:3]])
    assert mean == pytest.approx(feats.mean().item(), abs=1e-4)
    assert std == pytest.approx(feats.std(unbiased=False).item(), abs=1e-4)
