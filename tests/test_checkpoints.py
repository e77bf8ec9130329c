"""Official AST checkpoint import, resizing and strict-loading errors."""

import glob
import os

import pytest
import torch
import yaml

from speechbrain_ast.audio import load_audio
from speechbrain_ast.features import NORM_STATS, FixedNormalization, KaldiFbank
from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
from speechbrain_ast.pretrained.ast_checkpoints import (
    import_checkpoint,
    load_checkpoint,
    read_labels_csv,
)
from speechbrain_ast.pretrained.geometry import resize_to_n_frames
from speechbrain_ast.pretrained.huggingface import (
    convert_hf_state_dict,
    load_hf_folder,
)
from speechbrain_ast.pretrained.official import (
    load_official_state_dict,
    strides_from_name,
)

DIM, HEADS = 32, 4


def make_model(n_frames=1024, n_classes=527, fstride=10, tstride=10):
    """A random tiny AST encoder + head (head randomised beyond its default init)."""
    encoder = AudioSpectrogramTransformer(
        n_frames=n_frames,
        fstride=fstride,
        tstride=tstride,
        embed_dim=DIM,
        depth=1,
        num_heads=HEADS,
    ).eval()
    head = ClassificationHead(DIM, n_classes).eval()
    with torch.no_grad():
        head.norm.weight.normal_(1.0, 0.2)
        head.norm.bias.normal_(0.0, 0.2)
    return encoder, head


def official_state_dict(encoder, head):
    """The official DataParallel layout, with the unused ImageNet heads."""
    state = {f"module.v.{k}": v.clone() for k, v in encoder.state_dict().items()}
    state["module.mlp_head.0.weight"] = head.norm.weight.detach().clone()
    state["module.mlp_head.0.bias"] = head.norm.bias.detach().clone()
    state["module.mlp_head.1.weight"] = head.linear.weight.detach().clone()
    state["module.mlp_head.1.bias"] = head.linear.bias.detach().clone()
    state["module.v.head.weight"] = torch.randn(1000, DIM)
    state["module.v.head.bias"] = torch.randn(1000)
    state["module.v.head_dist.weight"] = torch.randn(1000, DIM)
    state["module.v.head_dist.bias"] = torch.randn(1000)
    return state


def read_header(folder):
    """The plain-YAML settings at the top of a model folder's hyperparams.yaml."""
    with open(os.path.join(folder, "hyperparams.yaml")) as handle:
        return yaml.safe_load(handle.read().split("compute_features:")[0])


def grid_of(encoder_or_sd, prefix, f_dim, t_dim):
    pe = encoder_or_sd["pos_embed"][:, prefix:]
    return pe.transpose(1, 2).reshape(1, -1, f_dim, t_dim)


@pytest.fixture(scope="module")
def audioset_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    encoder, head = make_model()
    path = tmp_path_factory.mktemp("official") / "audioset_10_10_0.4593.pth"
    torch.save(official_state_dict(encoder, head), path)
    return str(path), encoder, head


def test_official_import_reproduces_outputs(audioset_ckpt, tmp_path, samples):
    from speechbrain.inference.classifiers import EncoderClassifier

    path, encoder, head = audioset_ckpt
    out = import_checkpoint("official", path, str(tmp_path / "model"), num_heads=HEADS)
    hparams = read_header(out)
    assert hparams["multi_label"] is True  # 527 classes
    assert (hparams["norm_mean"], hparams["norm_std"]) == pytest.approx(
        NORM_STATS["audioset"]
    )
    assert hparams["labels"][:2] == ["class_0", "class_1"]

    clf = EncoderClassifier.from_hparams(source=out)
    wav_path = sorted(glob.glob(str(samples / "speech_commands_v0.02/yes/*.wav")))[0]
    wav = load_audio(wav_path)[None]
    feats = FixedNormalization(dataset="audioset")(KaldiFbank(n_frames=1024)(wav))
    with torch.no_grad():
        expected = head(encoder(feats)).squeeze(1)
        got = clf.classify_batch(wav)[0]
        direct = clf.mods.classifier(clf.mods.embedding_model(feats)).squeeze(1)
    assert torch.equal(direct, expected)
    assert (got - expected).abs().max() < 1e-5


def test_official_keys_and_inferred_geometry(audioset_ckpt):
    path, encoder, head = audioset_ckpt
    encoder_sd, head_sd, info = load_official_state_dict(path, num_heads=HEADS)
    assert not any(k.startswith("head") for k in encoder_sd)
    assert set(head_sd) == {"norm.weight", "norm.bias", "linear.weight", "linear.bias"}
    cfg = info["encoder_config"]
    assert (cfg["n_frames"], cfg["fstride"], cfg["tstride"]) == (1024, 10, 10)
    assert (cfg["num_prefix_tokens"], cfg["layer_norm_eps"]) == (2, 1e-6)
    assert info["head_layer_norm_eps"] == 1e-5 and info["n_classes"] == 527


def test_module_prefix_is_optional(audioset_ckpt):
    path, encoder, head = audioset_ckpt
    state = torch.load(path)
    bare = {k[len("module.") :]: v for k, v in state.items()}
    encoder_sd, _, _ = load_official_state_dict(bare, num_heads=HEADS)
    assert torch.equal(encoder_sd["pos_embed"], encoder.pos_embed)


def test_labels_csv_and_single_label(tmp_path):
    torch.manual_seed(1)
    encoder, head = make_model(n_frames=128, n_classes=3)
    path = tmp_path / "speechcommands_10_10_0.9812.pth"
    torch.save(official_state_dict(encoder, head), path)
    labels = tmp_path / "labels.csv"
    labels.write_text(
        'index,mid,display_name\n0,/m/a,yes\n2,/m/c,"left, right"\n1,/m/b,no\n'
    )
    out = import_checkpoint(
        "official", str(path), str(tmp_path / "m"), labels_csv=str(labels), num_heads=4
    )
    hparams = read_header(out)
    assert hparams["labels"] == ["yes", "no", "left, right"]
    assert hparams["multi_label"] is False
    assert hparams["norm_mean"] == pytest.approx(NORM_STATS["speechcommands"][0])

    bad = tmp_path / "two.csv"
    bad.write_text("index,mid,display_name\n0,/m/a,yes\n1,/m/b,no\n")
    with pytest.raises(ValueError, match="2 labels for a 3-class model"):
        import_checkpoint(
            "official", str(path), str(tmp_path / "x"), str(bad), num_heads=4
        )
    assert not (tmp_path / "x").exists()


def _corrupt(path, tmp_path, edit):
    state = torch.load(path)
    edit(state)
    bad = tmp_path / "bad_10_10_0.1.pth"
    torch.save(state, bad)
    return str(bad)


def test_missing_key_is_named(audioset_ckpt, tmp_path):
    path = _corrupt(
        audioset_ckpt[0],
        tmp_path,
        lambda s: s.pop("module.v.blocks.0.attn.proj.bias"),
    )
    with pytest.raises(ValueError, match=r"missing keys \['blocks.0.attn.proj.bias'\]"):
        import_checkpoint("official", path, str(tmp_path / "out"), num_heads=HEADS)
    assert not (tmp_path / "out").exists()


def test_extra_key_is_named(audioset_ckpt, tmp_path):
    def add(state):
        state["module.v.blocks.0.attn.extra.weight"] = torch.zeros(2)

    path = _corrupt(audioset_ckpt[0], tmp_path, add)
    with pytest.raises(ValueError, match="unexpected keys.*blocks.0.attn.extra.weight"):
        import_checkpoint("official", path, str(tmp_path / "out"), num_heads=HEADS)

    def add_outside(state):
        state["module.something_else"] = torch.zeros(2)

    path = _corrupt(audioset_ckpt[0], tmp_path, add_outside)
    with pytest.raises(ValueError, match="module.something_else"):
        import_checkpoint("official", path, str(tmp_path / "out"), num_heads=HEADS)


def test_wrong_shape_is_named(audioset_ckpt, tmp_path):
    def shrink(state):
        state["module.v.blocks.0.mlp.fc2.weight"] = torch.zeros(DIM, 7)

    path = _corrupt(audioset_ckpt[0], tmp_path, shrink)
    with pytest.raises(
        ValueError,
        match=r"blocks.0.mlp.fc2.weight: checkpoint \[32, 7\] vs model \[32, 128\]",
    ):
        import_checkpoint("official", path, str(tmp_path / "out"), num_heads=HEADS)


def test_strides_from_file_name_and_clear_mismatch(tmp_path):
    torch.manual_seed(2)
    encoder, head = make_model(fstride=12, tstride=12, n_classes=2)
    state = official_state_dict(encoder, head)
    named = tmp_path / "audioset_12_12_0.4467.pth"
    torch.save(state, named)
    assert strides_from_name(named) == (12, 12)
    enc, _, info = load_checkpoint("official", str(named), num_heads=HEADS)
    assert (enc.fstride, enc.tstride, enc.f_dim, enc.t_dim) == (12, 12, 10, 85)
    assert info["encoder_config"]["n_frames"] == 1024

    plain = tmp_path / "model.pth"
    torch.save(state, plain)
    with pytest.raises(ValueError, match=r"multiple of 12 .* found 850"):
        load_checkpoint("official", str(plain), num_heads=HEADS)
    with pytest.raises(ValueError, match="file name says strides 12, 12"):
        load_checkpoint("official", str(named), fstride=10, tstride=10, num_heads=HEADS)
    enc, _, _ = load_checkpoint(
        "official", str(plain), fstride=12, tstride=12, num_heads=HEADS
    )
    assert enc.t_dim == 85


def test_resize_esc50_takes_columns_25_to_75(audioset_ckpt):
    _, encoder, _ = audioset_ckpt
    sd, cfg = resize_to_n_frames(encoder.state_dict(), encoder.config, 512)
    assert cfg["n_frames"] == 512
    full = grid_of(encoder.state_dict(), 2, 12, 101)
    assert torch.equal(grid_of(sd, 2, 12, 50), full[:, :, :, 25:75])
    assert torch.equal(sd["pos_embed"][:, :2], encoder.pos_embed[:, :2])
    # Speech Commands 1 s from AudioSet: columns 44:56
    sd, _ = resize_to_n_frames(encoder.state_dict(), encoder.config, 128)
    assert torch.equal(grid_of(sd, 2, 12, 12), full[:, :, :, 44:56])


def test_resize_longer_interpolates_and_other_strides_rebuild(audioset_ckpt):
    _, encoder, _ = audioset_ckpt
    full = grid_of(encoder.state_dict(), 2, 12, 101)
    sd, cfg = resize_to_n_frames(encoder.state_dict(), encoder.config, 2048)
    wide = torch.nn.functional.interpolate(
        full, size=(12, 204), mode="bilinear", align_corners=False
    )
    assert torch.equal(grid_of(sd, 2, 12, 204), wide)
    # New strides: the conv really uses them (official bug not reproduced).
    sd, cfg = resize_to_n_frames(
        encoder.state_dict(), encoder.config, 1024, fstride=12, tstride=12
    )
    rebuilt = AudioSpectrogramTransformer(**cfg)
    rebuilt.load_state_dict(sd)
    assert rebuilt.patch_embed.proj.stride == (12, 12)
    assert torch.equal(grid_of(sd, 2, 10, 85), full[:, :, 1:11, 8:93])
    assert rebuilt(torch.randn(1, 1024, 128)).shape == (1, 1, DIM)


def test_import_with_other_length_keeps_head(audioset_ckpt, tmp_path):
    path, encoder, head = audioset_ckpt
    enc, hd, info = load_checkpoint("official", path, n_frames=512, num_heads=HEADS)
    assert enc.n_frames == 512 and enc.pos_embed.shape[1] == 602
    assert torch.equal(hd.linear.weight, head.linear.weight)
    assert info["encoder_config"]["n_frames"] == 512


def test_imagenet_file_and_unknown_format_are_rejected(tmp_path):
    torch.manual_seed(3)
    encoder, head = make_model(n_frames=128, n_classes=2)
    state = official_state_dict(encoder, head)
    state["module.v.patch_embed.proj.weight"] = torch.zeros(DIM, 3, 16, 16)
    path = tmp_path / "rgb.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match="from_timm"):
        load_official_state_dict(str(path), num_heads=HEADS)
    with pytest.raises(ValueError, match="unknown checkpoint format"):
        load_checkpoint("onnx", str(path))
    for hf_source in (str(tmp_path), "MIT/ast-finetuned-audioset-10-10-0.4593"):
        with pytest.raises(ValueError, match="use the format 'hf'"):
            load_checkpoint("official", hf_source)


def test_hf_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_hf_folder(str(tmp_path))
    with pytest.raises(ValueError, match="unexpected HF keys"):
        convert_hf_state_dict({"audio_spectrogram_transformer.pooler.weight": 0})
    with pytest.raises(ValueError, match="query/key/value"):
        convert_hf_state_dict(
            {
                "audio_spectrogram_transformer.encoder.layer.0.attention."
                "attention.query.weight": torch.zeros(2, 2)
            }
        )


def test_read_labels_csv_errors(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("id,name\n0,a\n")
    with pytest.raises(ValueError, match="expected columns"):
        read_labels_csv(str(path))
    path.write_text("index,mid,display_name\n0,a,x\n2,b,y\n")
    with pytest.raises(ValueError, match="not 0..1"):
        read_labels_csv(str(path))
