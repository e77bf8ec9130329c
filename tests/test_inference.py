"""Tests of AudioTagger: loading, batching, long audio, int8 (tiny random models)."""

import glob
import os

import numpy as np
import pytest
import soundfile
import torch
import torchaudio
from speechbrain.inference.classifiers import EncoderClassifier

from speechbrain_ast.audio import AudioError, load_audio
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
from speechbrain_ast.model_folder import write_model_folder
from speechbrain_ast.tagging.tagger import AudioTagger, TaggingResult, window_starts

N_FRAMES = 128
WINDOW = (N_FRAMES - 1) * 160 + 400  # 20720 samples, 1.295 s
LABELS = ["dog", "rooster", "audioset", "no", "up", "yes"]


def _tiny(n_classes=len(LABELS)):
    encoder = AudioSpectrogramTransformer(
        n_frames=N_FRAMES, embed_dim=32, depth=1, num_heads=2
    )
    return encoder, ClassificationHead(32, n_classes)


def _sample_files(samples):
    return sorted(glob.glob(str(samples / "**" / "*.wav"), recursive=True))


def _group(path):
    """Index of a sample's source (ESC-50 dog/rooster, AudioSet, SC words)."""
    if "ESC-50" in path:
        return 0 if path.endswith("-0.wav") else 1
    if "audioset" in path:
        return 2
    return 3 + ["no", "up", "yes"].index(os.path.basename(os.path.dirname(path)))


def _pad(wavs):
    batch = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
    lens = torch.tensor([w.numel() for w in wavs], dtype=torch.float) / batch.shape[1]
    return batch, lens


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A multi-label and a single-label tiny model folder."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("models")
    encoder, head = _tiny()
    multi = write_model_folder(
        str(root / "multi"), encoder, head, LABELS, -6.6, 5.4, True
    )
    encoder, head = _tiny()
    single = write_model_folder(
        str(root / "single"), encoder, head, LABELS, -6.6, 5.4, False
    )
    return {"multi": multi, "single": single}


@pytest.fixture(scope="module")
def tagger(folders):
    return AudioTagger.from_hparams(source=folders["multi"])


@pytest.fixture(scope="module")
def long_wav(samples, tmp_path_factory):
    """A 12 s file made of real ESC-50 clips."""
    clips = sorted(glob.glob(str(samples / "ESC-50-master" / "audio" / "*.wav")))[:3]
    wav = torch.cat([load_audio(path) for path in clips])[: 12 * 16000]
    path = str(tmp_path_factory.mktemp("long") / "long.wav")
    soundfile.write(path, wav.numpy(), 16000)
    return path


def test_loads_offline_from_another_cwd(folders, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing of the model here
    wavs = torch.randn(2, 16000)
    plain = EncoderClassifier.from_hparams(source=folders["multi"])
    out_prob, _, index, text = plain.classify_batch(wavs)
    assert out_prob.shape == (2, len(LABELS))
    assert text == [LABELS[i] for i in index.tolist()]

    tagger = AudioTagger.from_hparams(source=folders["multi"])
    assert isinstance(tagger, EncoderClassifier)
    assert tagger.labels == LABELS and tagger.multi_label
    assert tagger.window_samples == WINDOW
    logits, _, _, text2 = tagger.classify_batch(wavs)
    torch.testing.assert_close(logits, out_prob)
    assert text2 == text
    assert not tagger.mods.embedding_model.training

    # A relative folder name resolves against the CWD at load time only.
    monkeypatch.chdir(os.path.dirname(folders["multi"]))
    relative = AudioTagger.from_hparams(source="multi")
    monkeypatch.chdir(tmp_path)
    torch.testing.assert_close(relative.classify_batch(wavs)[0], out_prob)


def test_missing_model_folder_errors(folders, tmp_path):
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        AudioTagger.from_hparams(source=str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="no hyperparams.yaml"):
        AudioTagger.from_hparams(source=str(tmp_path))
    with pytest.raises(TypeError):  # the parent still rejects unknown options
        AudioTagger.from_hparams(source=folders["multi"], bogus=1)


def test_batch_equals_one_by_one(tagger, samples):
    files = _sample_files(samples)
    # Different lengths: shorter than, about and longer than one window.
    wavs = [
        load_audio(files[0])[:11000],
        load_audio(files[-1]),
        load_audio(files[12])[:30000],
        load_audio(files[5])[:5000],
    ]
    batch, lens = _pad(wavs)
    scores, tags = tagger.tag_batch(batch, lens, top_k=3, sample_rate=16000)
    for i, wav in enumerate(wavs):
        alone, alone_tags = tagger.tag_batch(
            wav.unsqueeze(0), top_k=3, sample_rate=16000
        )
        torch.testing.assert_close(scores[i], alone[0], atol=1e-5, rtol=1e-4)
        assert [label for label, _ in tags[i]] == [name for name, _ in alone_tags[0]]
    # The parent ignores the lengths in the features: padding leaks in.
    parent = EncoderClassifier.encode_batch(tagger, batch, lens)
    assert not torch.allclose(parent[3], tagger.encode_batch(wavs[3])[0], atol=1e-4)


def test_scores_topk_threshold(folders, tagger):
    wavs = torch.randn(3, 16000)
    scores, tags = tagger.tag_batch(wavs, top_k=2, sample_rate=16000)
    assert scores.shape == (3, len(LABELS))
    assert ((scores > 0) & (scores < 1)).all()
    assert not torch.allclose(scores.sum(1), torch.ones(3))  # sigmoid
    for row, clip in zip(scores, tags):
        assert len(clip) == 2 and clip[0][1] >= clip[1][1]
        assert clip[0] == (LABELS[int(row.argmax())], pytest.approx(float(row.max())))
    _, every = tagger.tag_batch(wavs, top_k=None, sample_rate=16000)
    assert sorted(label for label, _ in every[0]) == sorted(LABELS)
    _, none = tagger.tag_batch(wavs, threshold=1.01, sample_rate=16000)
    assert none == [[], [], []]
    cut = float(scores[0].median())
    _, kept = tagger.tag_batch(wavs[:1], top_k=None, threshold=cut, sample_rate=16000)
    assert all(score >= cut for _, score in kept[0]) and len(kept[0]) >= 1
    with pytest.raises(ValueError, match="top_k"):
        tagger.tag_batch(wavs, top_k=0, sample_rate=16000)

    single = AudioTagger.from_hparams(source=folders["single"])
    soft, _ = single.tag_batch(wavs, sample_rate=16000)
    torch.testing.assert_close(soft.sum(1), torch.ones(3))  # softmax

    with pytest.raises(ValueError, match="NaN"):
        tagger.tag_batch(torch.full((1, 16000), float("nan")), sample_rate=16000)


def test_window_starts_cover_signal():
    for n_samples in (1, WINDOW, WINDOW + 1, 3 * WINDOW + 17, 100_000):
        starts = window_starts(n_samples, WINDOW, WINDOW // 2)
        assert starts[0] == 0 and starts == sorted(set(starts))
        assert max(starts[-1] + WINDOW, WINDOW) >= n_samples
        if n_samples > WINDOW:
            assert starts[-1] + WINDOW == n_samples
            assert all(b - a <= WINDOW // 2 for a, b in zip(starts, starts[1:]))
    with pytest.raises(ValueError):
        window_starts(100, 40, 41)


def test_tag_file_short_clip(tagger, samples, tmp_path):
    wav = load_audio(_sample_files(samples)[-1])[:800]  # 50 ms
    path = str(tmp_path / "short.wav")
    soundfile.write(path, wav.numpy(), 16000)
    result = tagger.tag_file(path, top_k=3)
    assert isinstance(result, TaggingResult)
    assert result.duration == pytest.approx(0.05)
    assert len(result.timeline) == 1
    assert result.timeline[0]["start"] == 0.0
    assert result.timeline[0]["end"] == pytest.approx(0.05)
    # One padded window: exactly what tag_batch gives for the clip.
    scores, tags = tagger.tag_batch(wav.unsqueeze(0), top_k=3, sample_rate=16000)
    torch.testing.assert_close(result.scores, scores[0])
    assert [name for name, _ in result.labels] == [name for name, _ in tags[0]]
    # Shorter than one 25 ms frame: zero-padded to one frame, still tagged.
    assert len(tagger.tag_waveform(wav[:100], sample_rate=16000).timeline) == 1


def test_a_clip_of_the_training_length_is_one_window(tagger):
    """A tail shorter than one frame shift makes no frame: no second window.

    Measured before the fix: a 5.000 s ESC-50 clip and a model of 498 frames
    (4.995 s) gave two windows, the second 5 ms later; `evaluate` scored the
    max of the two and disagreed with the training run (and EncoderClassifier)
    on one validation clip in 20.
    """
    wav = 0.1 * torch.randn(WINDOW + 160, generator=torch.Generator().manual_seed(0))
    for extra in (1, 80, 159):  # fewer samples than one 10 ms frame shift
        clip = wav[: WINDOW + extra]
        result = tagger.tag_waveform(clip, top_k=None, sample_rate=16000)
        assert len(result.timeline) == 1, extra
        end = result.timeline[0]["end"]
        assert end == pytest.approx((WINDOW + extra) / 16000, abs=1e-4)
        scores, _ = tagger.tag_batch(clip.unsqueeze(0), sample_rate=16000)
        torch.testing.assert_close(result.scores, scores[0])
    # One more frame's worth of samples is longer than the model input.
    longer = tagger.tag_waveform(wav[: WINDOW + 160], sample_rate=16000)
    assert len(longer.timeline) == 2


def test_tag_file_long_clip_windows_and_aggregation(tagger, long_wav):
    result = tagger.tag_file(long_wav, top_k=None, batch_size=4)
    n_samples = 12 * 16000
    starts = window_starts(n_samples, WINDOW, WINDOW // 2)
    assert len(result.timeline) == len(starts) > 10
    assert result.duration == pytest.approx(12.0)
    assert result.timeline[0]["start"] == 0.0
    assert result.timeline[-1]["end"] == pytest.approx(12.0)
    for window, start in zip(result.timeline, starts):
        assert window["start"] == pytest.approx(start / 16000, abs=1e-4)
        assert window["end"] - window["start"] == pytest.approx(
            WINDOW / 16000, abs=2e-4
        )

    def table(timeline):
        return torch.tensor(
            [[dict(w["labels"])[label] for label in LABELS] for w in timeline]
        )

    per_window = table(result.timeline)
    torch.testing.assert_close(result.scores, per_window.max(0).values)
    mean = tagger.tag_file(long_wav, top_k=2, aggregate="mean")
    torch.testing.assert_close(mean.scores, per_window.mean(0))
    assert (result.scores >= mean.scores - 1e-6).all()
    assert len(mean.labels) == 2 and all(len(w["labels"]) == 2 for w in mean.timeline)

    # Window 0 is the first WINDOW samples, tagged alone.
    first = tagger.score_batch(load_audio(long_wav)[:WINDOW].unsqueeze(0))[0]
    torch.testing.assert_close(per_window[0], first, atol=1e-5, rtol=1e-4)

    hop1 = tagger.tag_file(long_wav, top_k=1, hop_seconds=1.0)
    assert [w["start"] for w in hop1.timeline[:3]] == [0.0, 1.0, 2.0]
    assert hop1.timeline[-1]["end"] == pytest.approx(12.0)
    with pytest.raises(ValueError, match="hop_seconds"):
        tagger.tag_file(long_wav, hop_seconds=5.0)
    with pytest.raises(ValueError, match="aggregate"):
        tagger.tag_file(long_wav, aggregate="median")
    doc = result.to_dict()
    assert doc["file"] == long_wav and len(doc["timeline"]) == len(starts)


def test_stereo_44k_file_is_converted(tagger, samples, tmp_path):
    mono = load_audio(_sample_files(samples)[0])[:16000]
    stereo = torchaudio.functional.resample(mono, 16000, 44100)
    path = str(tmp_path / "stereo.wav")
    soundfile.write(path, torch.stack([stereo, stereo], 1).numpy(), 44100)
    result = tagger.tag_file(path)
    assert result.duration == pytest.approx(1.0, abs=1e-3)
    expected = tagger.score_batch(mono.unsqueeze(0))[0]
    torch.testing.assert_close(result.scores, expected, atol=2e-2, rtol=0)
    # classify_file (the parent API) goes through the same reader.
    logits, _, _, text = tagger.classify_file(path)
    assert logits.shape == (1, len(LABELS)) and text[0] in LABELS


def test_tag_files_errors(tagger, samples, tmp_path):
    good = _sample_files(samples)[-1]
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    results = tagger.tag_files([good, str(empty)], errors="return", top_k=1)
    assert isinstance(results[0], TaggingResult)
    assert isinstance(results[1], AudioError) and str(empty) in str(results[1])
    with pytest.raises(AudioError, match="missing.wav: file not found"):
        tagger.tag_files([good, str(tmp_path / "missing.wav")])


def test_int8_close_to_fp32(samples, tmp_path):
    """int8 top-1 agrees with fp32 on the real samples (loose bound)."""
    files = _sample_files(samples)
    wavs = [load_audio(path)[:WINDOW] for path in files]
    batch, lens = _pad(wavs)
    groups = torch.tensor([_group(path) for path in files])
    # A random encoder with a head fitted to the sample groups, so that the
    # top-1 depends on the input (a purely random model predicts one class).
    encoder, head = _tiny()
    folder = write_model_folder(
        str(tmp_path / "m"), encoder, head, LABELS, -6.6, 5.4, False
    )
    embeddings = AudioTagger.from_hparams(source=folder).encode_batch(batch, lens)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(head(embeddings).squeeze(1), groups)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    write_model_folder(folder, encoder, head, LABELS, -6.6, 5.4, False)

    fp32 = AudioTagger.from_hparams(source=folder)
    int8 = AudioTagger.from_hparams(source=folder, int8=True)
    assert int8.int8 and not fp32.int8
    # int8 runs in onnxruntime (the deprecated torch.ao path is gone).
    assert int8.backend == "onnx" and fp32.backend == "torch"
    top_fp32 = fp32.score_batch(batch, lens).argmax(1)
    top_int8 = int8.score_batch(batch, lens).argmax(1)
    assert len(set(top_fp32.tolist())) >= 3  # the comparison is not degenerate
    agreement = (top_fp32 == top_int8).float().mean().item()
    assert agreement >= 0.6, agreement
    result = int8.tag_file(files[0], top_k=2)
    assert len(result.labels) == 2

    int8.device = "cuda:0"  # pretend: quantisation is refused off CPU
    with pytest.raises(ValueError, match="CPU only"):
        int8.quantize_int8()


def test_nan_file_is_refused(tagger, tmp_path):
    samples_ = np.random.randn(16000).astype("float32")
    samples_[10] = np.nan
    path = str(tmp_path / "nan.wav")
    soundfile.write(path, samples_, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        tagger.tag_file(path)
