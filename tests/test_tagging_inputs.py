"""AudioTagger refuses to be silently wrong about its input (tiny random model).

An array is tagged at the rate it was recorded at, which the caller must give;
silent and sub-frame input is flagged by the same rules as the training skip
list.
"""

import glob
import importlib.util
import inspect
import pathlib

import pytest
import soundfile
import torch
import torchaudio

from speechbrain_ast.audio import SILENCE_THRESHOLD, load_audio
from speechbrain_ast.tagging.tagger import AudioTagger
from tests.helpers import tiny_model_folder

REPO = pathlib.Path(__file__).resolve().parent.parent


def _load_recipe_module(folder, name):
    spec = importlib.util.spec_from_file_location(
        name, REPO / "recipes" / folder / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    torch.manual_seed(0)
    folder = tiny_model_folder(tmp_path_factory.mktemp("inputs"), multi_label=False)
    return AudioTagger.from_hparams(source=folder)


@pytest.fixture(scope="module")
def clip(samples):
    """A real 5 s ESC-50 clip at 16 kHz."""
    path = sorted(glob.glob(str(samples / "ESC-50-master" / "audio" / "*.wav")))[0]
    return load_audio(path)


@pytest.fixture(scope="module")
def stereo_44k(clip, tmp_path_factory):
    """The clip at 44.1 kHz in two different channels, as samples and a file."""
    left = torchaudio.functional.resample(clip, 16000, 44100)
    samples = torch.stack([left, 0.5 * left]).T.contiguous().numpy()  # [S, C]
    path = str(tmp_path_factory.mktemp("stereo") / "stereo44k.wav")
    soundfile.write(path, samples, 44100, subtype="FLOAT")
    return samples, path


# ------------------------------------------------------------ sample rates


def test_arrays_without_a_rate_are_an_error(tagger, stereo_44k):
    samples, _ = stereo_44k
    with pytest.raises(TypeError, match=r"pass sample_rate=.*expects 16000 Hz"):
        tagger.tag_waveform(samples)
    with pytest.raises(TypeError, match=r"sample_rate=.*16000 Hz"):
        tagger.tag_batch(torch.zeros(2, 16000))
    with pytest.raises(TypeError, match=r"sample_rate=.*16000 Hz"):
        tagger.detect_events(torch.zeros(16000))


def test_stereo_44k_array_tags_as_its_file(tagger, stereo_44k):
    samples, path = stereo_44k
    from_file = tagger.tag_file(path, top_k=None)
    forms = {
        "[S, C] numpy": (samples, {"sample_rate": 44100}),
        "[C, S] torch": (torch.from_numpy(samples.T.copy()), {"sample_rate": 44100}),
        "pipeline dict": ({"raw": samples, "sampling_rate": 44100}, {}),
        "datasets dict": ({"array": samples, "sampling_rate": 44100}, {}),
    }
    for name, (audio, rate) in forms.items():
        result = tagger.tag_waveform(audio, top_k=None, **rate)
        assert result.duration == pytest.approx(from_file.duration), name
        torch.testing.assert_close(
            result.window_scores, from_file.window_scores, atol=1e-6, rtol=0
        )
        assert result.labels == from_file.labels, name
    # What used to happen: the samples read as one 16 kHz signal.
    misread = tagger.tag_waveform(samples.reshape(-1), sample_rate=16000)
    assert misread.duration != pytest.approx(from_file.duration)


def test_unusable_array_forms_are_clear_errors(tagger, clip):
    with pytest.raises(ValueError, match="contradicts the dict's sampling_rate"):
        tagger.tag_waveform({"raw": clip, "sampling_rate": 8000}, sample_rate=16000)
    with pytest.raises(ValueError, match="'sampling_rate'"):
        tagger.tag_waveform({"raw": clip})
    with pytest.raises(ValueError, match="positive whole number"):
        tagger.tag_waveform(clip, sample_rate=22050.5)
    with pytest.raises(ValueError, match="int16 samples"):
        tagger.tag_waveform((clip * 32767).to(torch.int16).numpy(), sample_rate=16000)
    with pytest.raises(ValueError, match=r"\[S\], \[C, S\] or \[S, C\]"):
        tagger.tag_waveform(clip.reshape(1, 1, -1), sample_rate=16000)
    with pytest.raises(ValueError, match="NaN"):
        tagger.tag_waveform(torch.full((800,), float("nan")), sample_rate=16000)


def test_tag_batch_resamples(tagger, clip):
    batch = torch.stack([clip[:16000], clip[16000:32000]])
    at_44k = torchaudio.functional.resample(batch, 16000, 44100)
    scores, tags = tagger.tag_batch(at_44k, sample_rate=44100, top_k=None)
    resampled = torchaudio.functional.resample(at_44k, 44100, 16000)
    expected, _ = tagger.tag_batch(resampled, sample_rate=16000, top_k=None)
    torch.testing.assert_close(scores, expected)
    # Batch methods of the EncoderClassifier interface keep taking model-rate
    # tensors, as tag_file's windows give them.
    torch.testing.assert_close(tagger.score_batch(resampled), expected)


# ------------------------------------------------------- silent, too short


def test_silent_and_too_short_input_is_flagged(tagger, clip):
    silent = tagger.tag_waveform(torch.zeros(4 * 16000), sample_rate=16000)
    assert silent.silent and not silent.too_short
    assert silent.labels  # scores kept, but flagged
    document = silent.to_dict()
    assert document["silent"] is True and document["too_short"] is False
    assert document["warning"] == (
        "silent (peak amplitude 0 below 0.0001): labels not meaningful"
    )
    assert silent.input_note() == "silent input: labels not meaningful"

    short = tagger.tag_waveform(0.1 * torch.randn(304), sample_rate=16000)  # 19 ms
    assert short.too_short and not short.silent
    assert short.to_dict()["too_short"] is True
    assert "too short (304 samples at 16000 Hz; need 25 ms)" in short.input_warning()

    fine = tagger.tag_waveform(clip, sample_rate=16000)
    assert not fine.silent and not fine.too_short
    assert fine.input_note() is None and "warning" not in fine.to_dict()
    assert fine.to_dict()["silent"] is False


def test_flags_follow_the_training_skip_list(tagger, clip, tmp_path):
    """tag_file flags exactly the clips that CustomData's preparation skips."""
    prepare = _load_recipe_module("CustomData", "custom_data_prepare")
    ssl_prepare = _load_recipe_module("SSL", "ssl_prepare")
    for function in (prepare.prepare_custom_data, ssl_prepare.prepare_ssl_data):
        default = inspect.signature(function).parameters["silence_threshold"].default
        assert default == SILENCE_THRESHOLD, function.__name__

    noise = 2 * torch.rand(16000) - 1
    noise = noise / noise.abs().max()
    cases = {
        "quiet": 0.5 * SILENCE_THRESHOLD * noise,
        "barely_audible": 2 * SILENCE_THRESHOLD * noise,
        "399_samples": 0.1 * noise[:399],
        "400_samples": 0.1 * noise[:400],
    }
    for name, signal in cases.items():
        path = str(tmp_path / f"{name}.wav")
        soundfile.write(path, signal.numpy(), 16000, subtype="FLOAT")
        _, reason = prepare.inspect_clip(path, SILENCE_THRESHOLD)
        result = tagger.tag_file(path)
        assert result.silent == (reason is not None and reason.startswith("silent"))
        assert result.too_short == (reason is not None and "too short" in reason)
    assert tagger.tag_file(str(tmp_path / "quiet.wav")).silent
    assert tagger.tag_file(str(tmp_path / "399_samples.wav")).too_short
    assert torch.isfinite(
        tagger.tag_file(str(tmp_path / "399_samples.wav")).scores
    ).all()
