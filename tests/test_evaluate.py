"""``speechbrain-ast evaluate``: clip scores and event scores of a model folder.

Every number is checked against scikit-learn (or our event metrics) computed
on the tagger's own predictions of the same files, with tiny random model
folders and synthetic clips.
"""

import json
import os

import numpy as np
import pytest
import soundfile
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from speechbrain_ast.cli import main
from speechbrain_ast.tagging.event_metrics import (
    event_based_scores,
    segment_based_scores,
)
from speechbrain_ast.tagging.events import Event, events_from_tagging
from speechbrain_ast.tagging.tagger import AudioTagger
from tests.helpers import tiny_model_folder


def noise(path, seconds, seed):
    """Noise of a seeded level and colour, so the clips score differently."""
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal(int(seconds * 16000))
    signal = np.convolve(signal, np.ones(1 + seed % 7) / (1 + seed % 7), "same")
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), 0.02 * (1 + seed % 5) * signal, 16000)
    return str(path)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return tiny_model_folder(tmp_path_factory.mktemp("single"), multi_label=False)


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    return tiny_model_folder(tmp_path_factory.mktemp("multi"), multi_label=True)


def run_json(argv, capsys):
    code = main(argv + ["--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_single_label_matches_sklearn(single, tmp_path, capsys):
    data = tmp_path / "sounds"
    paths = {
        label: [noise(data / label / f"{label}{i}.wav", 0.8, seed) for i in range(n)]
        for label, n, seed in (("a", 4, 0), ("b", 3, 10), ("c", 2, 20))
    }
    (data / "a" / "broken.wav").write_bytes(b"RIFF not really a wav")
    (data / "b" / "notes.txt").write_text("not audio")
    code, doc, err = run_json(["evaluate", single, str(data)], capsys)
    assert code == 1  # a file could not be read
    assert [entry["file"] for entry in doc["skipped"]] == [
        str(data / "a" / "broken.wav")
    ]
    assert f"error: {data / 'a' / 'broken.wav'}: " in err
    assert [entry["file"] for entry in doc["not_used"]] == [
        str(data / "b" / "notes.txt")
    ]

    tagger = AudioTagger.from_hparams(source=single)
    files = [(path, label) for label in "abc" for path in sorted(paths[label])]
    truth = [tagger.labels.index(label) for _, label in files]
    predicted = [int(tagger.tag_file(path).scores.argmax()) for path, _ in files]
    assert [entry["file"] for entry in doc["predictions"]] == [
        path for path, _ in files
    ]
    assert [entry["predicted"] for entry in doc["predictions"]] == [
        tagger.labels[index] for index in predicted
    ]
    assert doc["task"] == "single-label" and doc["n_clips"] == 9
    assert doc["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert doc["chance"] == {
        "majority_class": "a",
        "majority_rate": 4 / 9,
        "uniform": 1 / 3,
    }
    present = sorted(set(truth) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=present, zero_division=0
    )
    assert [row["label"] for row in doc["per_class"]] == [
        tagger.labels[i] for i in present
    ]
    for row, p, r, f, s in zip(doc["per_class"], precision, recall, f1, support):
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == (
            pytest.approx(p),
            pytest.approx(r),
            pytest.approx(f),
            s,
        )
    assert (
        doc["confusion"]["matrix"]
        == confusion_matrix(truth, predicted, labels=present).tolist()
    )

    # the text output says the same
    assert main(["evaluate", single, str(data)]) == 1
    text = capsys.readouterr().out
    assert f"accuracy: {doc['accuracy']:.4f} ({doc['n_correct']} of 9)" in text
    assert "chance: 0.4444 (always 'a', the most frequent class here)" in text
    assert "1/3 classes = 0.3333" in text
    assert "confusion matrix (counts; rows: true class, columns: predicted):" in text
    assert "skipped (unreadable): 1" in text and "broken.wav" in text


def test_multi_label_csv_matches_sklearn(multi, tmp_path, capsys):
    labels = ["a;b", "b", "c", "a", "b;c", "c", "a;c", "b"]
    rows = ["path,label,split"]
    for index, label in enumerate(labels):
        noise(tmp_path / "clips" / f"{index}.wav", 0.6 + 0.2 * index, index)
        rows.append(f"clips/{index}.wav,{label},{'test' if index < 6 else 'train'}")
    data = tmp_path / "data.csv"
    data.write_text("\n".join(rows) + "\n")
    code, doc, _ = run_json(["evaluate", multi, str(data), "--split", "test"], capsys)
    assert code == 0 and doc["task"] == "multi-label" and doc["n_clips"] == 6

    tagger = AudioTagger.from_hparams(source=multi)
    scores = np.stack(
        [
            tagger.tag_file(str(tmp_path / "clips" / f"{i}.wav")).scores.numpy()
            for i in range(6)
        ]
    )
    targets = np.array(
        [[name in label.split(";") for name in tagger.labels] for label in labels[:6]]
    ).astype(int)
    assert doc["mAP"] == pytest.approx(
        average_precision_score(targets, scores, average="macro")
    )
    assert doc["chance_mAP"] == pytest.approx(targets.mean(axis=0).mean())
    predicted = (scores >= 0.5).astype(int)
    present = np.flatnonzero(targets.sum(0) + predicted.sum(0))
    precision, recall, f1, support = precision_recall_fscore_support(
        targets[:, present], predicted[:, present], zero_division=0
    )
    ap = average_precision_score(targets, scores, average=None)
    for row, column, p, r, f, s in zip(
        doc["per_class"], present, precision, recall, f1, support
    ):
        assert row["label"] == tagger.labels[column]
        assert row["AP"] == pytest.approx(ap[column])
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == (
            pytest.approx(p),
            pytest.approx(r),
            pytest.approx(f),
            s,
        )

    # all rows, with a note that the training rows are in them
    assert main(["evaluate", multi, str(data)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"note: {data} has a split column; all 8 rows are scored")
    assert "mAP: " in text and "chance mAP: " in text


def test_wrong_labels_and_layouts_are_clear_errors(single, multi, tmp_path, capsys):
    data = tmp_path / "sounds"
    noise(data / "a" / "1.wav", 0.5, 1)
    noise(data / "zebra" / "1.wav", 0.5, 2)
    assert main(["evaluate", single, str(data)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {data}: 1 label(s) the model {single} does not know")
    assert f"'zebra' (e.g. {data / 'zebra' / '1.wav'})" in err
    assert "its 3 classes are a, b, c" in err

    table = tmp_path / "two.csv"
    table.write_text("path,label\nsounds/a/1.wav,a;b\n")
    assert main(["evaluate", single, str(table)]) == 2
    err = capsys.readouterr().err
    assert (
        f"{data / 'a' / '1.wav'}: has labels a;b, but {single} is a single-label" in err
    )
    assert main(["evaluate", multi, str(table), "--split", "test"]) == 2
    assert "--split test needs a split column" in capsys.readouterr().err
    assert main(["evaluate", multi, str(tmp_path / "none")]) == 2
    assert "no such folder or CSV file" in capsys.readouterr().err


def recordings(root):
    """Three 3 s recordings, one unreadable, and the reference events."""
    paths = [noise(root / "audio" / f"rec{i}.wav", 3.0, 3 * i) for i in range(3)]
    (root / "audio" / "broken.wav").write_bytes(b"nothing")
    reference = root / "ref.tsv"
    reference.write_text(
        "filename\tonset\toffset\tevent_label\n"
        "street/rec0.wav\t0.000\t3.000\ta\n"
        "street/rec0.wav\t1.000\t2.000\tb\n"
        "street/rec1.wav\t0.500\t2.500\tc\n"
        "street/rec2.wav\n"
        "street/broken.wav\t0.0\t1.0\ta\n"
        "street/gone.wav\t0.0\t1.0\ta\n"
    )
    return paths, reference


def test_event_scores_match_event_metrics(multi, tmp_path, capsys):
    paths, reference = recordings(tmp_path)
    written = tmp_path / "found.tsv"
    argv = ["evaluate", multi, str(tmp_path / "audio"), "--events", str(reference)]
    argv += ["--hop", "0.5", "--event-threshold", "0.45", "--t-collar", "0.5"]
    code, doc, err = run_json(argv + ["--events-csv", str(written)], capsys)
    assert code == 1 and "broken.wav" in err
    assert doc["missing"] == ["gone.wav"] and doc["n_recordings"] == 3
    assert [entry["file"] for entry in doc["skipped"]] == [
        str(tmp_path / "audio" / "broken.wav")
    ]

    tagger = AudioTagger.from_hparams(source=multi)
    detections = {}
    for path in paths:
        wav = tagger.load_audio(path)
        tagged = tagger.tag_waveform(
            wav, sample_rate=tagger.sample_rate, path=path, hop_seconds=0.5
        )
        detections[os.path.basename(path)] = events_from_tagging(
            tagged, tagger.labels, thresholds=0.45, waveform=wav
        )
    truth = {
        "rec0.wav": [Event("a", 0.0, 3.0), Event("b", 1.0, 2.0)],
        "rec1.wav": [Event("c", 0.5, 2.5)],
        "rec2.wav": [],
    }
    estimated = {name: found.events for name, found in detections.items()}
    expected = event_based_scores(
        truth, estimated, t_collar=0.5, percentage_of_length=0.2
    )
    segments = segment_based_scores(
        truth, estimated, 1.0, dict.fromkeys(estimated, 3.0)
    )
    for key in ("f1", "precision", "recall", "tp", "fp", "fn", "macro_f1"):
        assert doc["event_based"][key] == pytest.approx(expected[key]), key
        assert doc["segment_based"][key] == pytest.approx(segments[key]), key
    assert doc["segment_based"]["error_rate"] == pytest.approx(segments["error_rate"])
    assert doc["n_detected_events"] == sum(len(e) for e in estimated.values())
    # the list it wrote: file names, and a row for a recording without events
    rows = written.read_text().splitlines()
    assert {row.split("\t")[0] for row in rows[1:]} <= {
        "rec0.wav",
        "rec1.wav",
        "rec2.wav",
    }
    for name, events in estimated.items():
        assert (name in rows) == (not events)

    assert main(argv) == 1
    text = capsys.readouterr().out
    assert f"event-based F1: {expected['f1']:.4f}" in text
    assert "onset collar 0.5 s, offset collar max(0.5 s, 20% of the event)" in text
    assert "in the reference, not found in the data: 1" in text and "gone.wav" in text


def test_event_reference_errors(multi, tmp_path, capsys):
    _, reference = recordings(tmp_path)
    audio = str(tmp_path / "audio")
    unknown = tmp_path / "unknown.tsv"
    unknown.write_text("rec0.wav\t0.0\t1.0\tsiren\n")
    assert main(["evaluate", multi, audio, "--events", str(unknown)]) == 2
    assert "1 event label(s) the model" in capsys.readouterr().err
    elsewhere = tmp_path / "elsewhere.tsv"
    elsewhere.write_text("other.wav\t0.0\t1.0\ta\n")
    assert main(["evaluate", multi, audio, "--events", str(elsewhere)]) == 2
    assert "none of the 1 recordings of" in capsys.readouterr().err
    assert main(["evaluate", multi, audio, "--events-csv", "x.tsv"]) == 2
    assert "--events-csv needs --events" in capsys.readouterr().err
    # two recordings with one file name: which one the reference means is unknown
    noise(tmp_path / "audio" / "copy" / "rec0.wav", 1.0, 7)
    assert main(["evaluate", multi, audio, "--events", str(reference)]) == 2
    assert "2 audio files are named rec0.wav" in capsys.readouterr().err


def test_psds_option(multi, tmp_path, capsys):
    _, reference = recordings(tmp_path)
    argv = ["evaluate", multi, str(tmp_path / "audio"), "--events", str(reference)]
    argv += ["--psds", "--hop", "0.5"]
    try:
        import sed_scores_eval  # noqa: F401
    except ImportError:  # the eval extra is not installed: a clear error
        assert main(argv) == 2
        assert "--psds needs sed_scores_eval" in capsys.readouterr().err
        return
    code, doc, _ = run_json(argv, capsys)
    assert code == 1 and set(doc["psds"]) == {"psds1", "psds2"}
    assert all(0.0 <= value <= 1.0 for value in doc["psds"].values())
