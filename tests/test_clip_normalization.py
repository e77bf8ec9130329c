"""Per-clip fbank normalisation: what it removes, padding, model folders, ONNX."""

import glob

import pytest
import torch

from speechbrain_ast.audio import load_audio
from speechbrain_ast.features import (
    DIGITAL_SILENCE,
    ClipNormalization,
    FixedNormalization,
    KaldiFbank,
    fbank_normalization,
)
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
from speechbrain_ast.model_folder import write_model_folder
from speechbrain_ast.tagging.tagger import AudioTagger

N_FRAMES = 128
LABELS = ["dog", "rooster", "yes"]


@pytest.fixture(scope="module")
def clips(samples):
    files = sorted(glob.glob(str(samples / "**" / "*.wav"), recursive=True))
    # 1 s of each: shorter than the model's 1.295 s, so every batch has padding.
    return torch.stack([load_audio(path)[:16000] for path in files[:3]])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformer(
        n_frames=N_FRAMES, embed_dim=32, depth=1, num_heads=2
    )
    head = ClassificationHead(32, len(LABELS))
    out = tmp_path_factory.mktemp("clipnorm") / "model"
    return write_model_folder(
        str(out), encoder, head, LABELS, -6.6, 5.4, False, normalization="clip"
    )


def test_level_drops_out_and_padding_is_the_clip_mean(clips):
    """A recording 10 dB lower (log-mel - 2.3) gives the same input; fixed stats do not.

    The shift is applied to the log-mel of the real frames: scaling the
    waveform would also push near-silent bins onto the log floor, which no
    normalisation undoes.
    """
    fbank = KaldiFbank(n_frames=N_FRAMES)
    loud = fbank(clips)
    real_frames = (loud != 0).any(dim=-1, keepdim=True)
    quiet = torch.where(real_frames, loud - 2.3, loud)
    clip_norm, fixed = ClipNormalization(), FixedNormalization(dataset="esc50")
    torch.testing.assert_close(clip_norm(quiet), clip_norm(loud), atol=1e-4, rtol=0)
    assert (fixed(quiet) - fixed(loud)).abs().max() > 0.2
    out = clip_norm(loud)
    real = 98  # frames of 1 s at 10 ms with 25 ms windows
    assert out[:, real:].abs().max() == 0.0
    # Statistics of the real frames only: mean 0 and std 1/2 there, and a
    # digitally silent clip (constant log floor) comes out as zeros.
    sound = loud[:, :real].std(dim=(1, 2)) > 0.1
    assert sound.sum() >= 2
    torch.testing.assert_close(
        out[:, :real].mean(dim=(1, 2)), torch.zeros(3), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        out[sound, :real].std(dim=(1, 2), unbiased=False),
        torch.full((int(sound.sum()),), 0.5),
        atol=1e-4,
        rtol=0,
    )
    assert out[~sound].abs().sum() == 0.0


def test_lengths_in_a_batch_do_not_change_a_clip(clips):
    """A clip scores the same alone or beside a longer one (padding ignored)."""
    fbank, norm = KaldiFbank(n_frames=N_FRAMES), ClipNormalization()
    short = clips[:1, :8000]
    batch = torch.zeros(2, 16000)
    batch[0, :8000], batch[1] = short[0], clips[1]
    lens = torch.tensor([0.5, 1.0])
    alone = norm(fbank(short))
    together = norm(fbank(batch, lens), lens)
    torch.testing.assert_close(together[:1], alone, atol=1e-5, rtol=0)


def test_clip_sound_scales_a_zero_padded_event_as_if_cut_to_its_length(clips):
    """0.5 s of sound and 0.5 s of zeros in the file: clip_sound sees the 0.5 s.

    ``short`` ends with the last window that still holds sound (frame 49
    starts at sample 7840), so its 50 frames are those of the padded file;
    every later frame of the padded file is all zeros.
    """
    fbank = KaldiFbank(n_frames=N_FRAMES)
    padded = torch.zeros(1, 16000)
    padded[0, :8000] = clips[clips.std(dim=1).argmax(), :8000]
    short = padded[:, :8240]
    sound = fbank_normalization("clip_sound")
    assert sound.silence_level == DIGITAL_SILENCE
    cut, zero_padded = sound(fbank(short)), sound(fbank(padded))
    torch.testing.assert_close(zero_padded, cut, atol=1e-3, rtol=0)
    assert zero_padded[:, 50:].abs().max() == 0.0
    # Plain clip statistics count the zeros' frames (at the log floor): the
    # same event comes out on another scale.
    plain = ClipNormalization()
    assert (
        plain(fbank(padded))[:, :50] - plain(fbank(short))[:, :50]
    ).abs().max() > 0.1


def test_clip_sound_keeps_quiet_sound_and_silence_gives_zeros(clips):
    """A frame just above the floor in one bin is sound; all zeros give 0, not NaN."""
    loudest = clips.std(dim=1).argmax()
    feats = KaldiFbank(n_frames=N_FRAMES)(clips[loudest : loudest + 1])
    quiet = feats.clone()
    quiet[:, :10] = -15.94
    quiet[:, 5, 0] = DIGITAL_SILENCE + 0.5
    sound = ClipNormalization(silence_level=DIGITAL_SILENCE)
    out = sound(quiet)
    assert out[0, 5].abs().max() > 0 and out[0, :5].abs().max() == 0.0
    silent = sound(KaldiFbank(n_frames=N_FRAMES)(torch.zeros(1, 16000)))
    assert torch.isfinite(silent).all() and silent.abs().max() == 0.0


def test_constant_input_gives_zeros_not_nan():
    out = ClipNormalization()(torch.full((1, 5, 4), -15.9))
    assert torch.isfinite(out).all() and out.abs().max() == 0.0


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="'instance'.*dataset, clip"):
        fbank_normalization("instance")
    encoder = AudioSpectrogramTransformer(
        n_frames=N_FRAMES, embed_dim=32, depth=1, num_heads=2
    )
    with pytest.raises(ValueError, match="'per_clip'"):
        write_model_folder(
            "unused",
            encoder,
            ClassificationHead(32, 3),
            LABELS,
            -6.6,
            5.4,
            False,
            normalization="per_clip",
        )


def test_model_folder_keeps_clip_normalization(folder, clips):
    """The exported folder loads with the clip normaliser and pads with 0."""
    tagger = AudioTagger.from_hparams(source=folder)
    assert isinstance(tagger.mods.mean_var_norm, ClipNormalization)
    assert tagger.mods.embedding_model.pad_value == 0.0
    fbank = KaldiFbank(n_frames=N_FRAMES)
    with torch.no_grad():
        expected = tagger.mods.classifier(
            tagger.mods.embedding_model(ClipNormalization()(fbank(clips)))
        ).squeeze(1)
    torch.testing.assert_close(tagger.logits_batch(clips), expected)


def test_clip_sound_model_folder_and_onnx_graph_leave_zeros_out(clips, tmp_path):
    """A clip_sound folder loads with the silence level; its ONNX graph agrees."""
    pytest.importorskip("onnxruntime")
    from speechbrain_ast.tagging.onnx_export import export_tagger
    from speechbrain_ast.tagging.onnx_runtime import OnnxScorer

    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformer(
        n_frames=N_FRAMES, embed_dim=32, depth=1, num_heads=2
    )
    out = write_model_folder(
        str(tmp_path / "model"),
        encoder,
        ClassificationHead(32, len(LABELS)),
        LABELS,
        -6.6,
        5.4,
        False,
        normalization="clip_sound",
    )
    tagger = AudioTagger.from_hparams(source=out)
    assert tagger.mods.mean_var_norm.silence_level == DIGITAL_SILENCE
    padded = clips.clone()
    padded[:, 8000:] = 0.0  # events padded with zeros, as in ESC-50
    path = export_tagger(tagger, str(tmp_path / "sound.onnx"))
    _, scores = OnnxScorer(path, threads=1).run(padded)
    torch.testing.assert_close(scores, tagger.score_batch(padded), atol=1e-5, rtol=0)
    plain = fbank_normalization("clip")
    fbank = KaldiFbank(n_frames=N_FRAMES)
    assert (
        plain(fbank(padded)) - tagger.mods.mean_var_norm(fbank(padded))
    ).abs().max() > 0.1


def test_onnx_graph_matches_pytorch(folder, clips, tmp_path):
    pytest.importorskip("onnxruntime")
    from speechbrain_ast.tagging.onnx_export import export_tagger
    from speechbrain_ast.tagging.onnx_runtime import OnnxScorer

    tagger = AudioTagger.from_hparams(source=folder)
    path = export_tagger(tagger, str(tmp_path / "clip.onnx"))
    logits, scores = OnnxScorer(path, threads=1).run(clips)
    torch.testing.assert_close(scores, tagger.score_batch(clips), atol=1e-5, rtol=0)
