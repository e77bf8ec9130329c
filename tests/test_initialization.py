"""Recipe encoder initialisation: scratch, ImageNet (timm file) and AudioSet (official)."""

import pytest
import timm
import torch

from speechbrain_ast.model import AudioSpectrogramTransformer, ClassificationHead
from speechbrain_ast.pretrained import from_timm, initialize_encoder


def tiny_encoder(n_frames, **kwargs):
    """The geometry a recipe YAML would build (DeiT-tiny width, 1 block)."""
    return AudioSpectrogramTransformer(
        n_frames=n_frames, embed_dim=192, depth=1, num_heads=3, **kwargs
    )


def test_imagenet_init_from_local_timm_checkpoint(tmp_path):
    deit = timm.create_model(
        "deit_tiny_distilled_patch16_224", pretrained=False, depth=1
    )
    path = tmp_path / "deit_tiny.pth"
    torch.save(deit.state_dict(), path)
    encoder = initialize_encoder(tiny_encoder(128), "imagenet", str(path))
    expected = from_timm(deit, n_frames=128)
    for key, value in expected.state_dict().items():
        assert torch.equal(encoder.state_dict()[key], value), key
    # the 1-channel patch kernel is the RGB sum of the timm kernel
    rgb_sum = deit.patch_embed.proj.weight.sum(dim=1, keepdim=True)
    assert torch.equal(encoder.patch_embed.proj.weight, rgb_sum)


def test_audioset_init_from_official_checkpoint_other_length(tmp_path):
    source = tiny_encoder(1024)
    state = {f"module.v.{k}": v for k, v in source.state_dict().items()}
    head = ClassificationHead(192, 527)
    state.update(
        {f"module.mlp_head.0.{k}": v for k, v in head.norm.state_dict().items()}
    )
    state.update(
        {f"module.mlp_head.1.{k}": v for k, v in head.linear.state_dict().items()}
    )
    path = tmp_path / "audioset_10_10_0.4593.pth"
    torch.save(state, path)

    encoder = initialize_encoder(tiny_encoder(512), "audioset", str(path), "official")
    assert torch.equal(
        encoder.blocks[0].attn.qkv.weight, source.blocks[0].attn.qkv.weight
    )
    # ESC-50 length: 12 x 50 grid = columns 25:75 of the 12 x 101 AudioSet grid
    grid = source.pos_embed[:, 2:].reshape(1, 12, 101, 192)
    expected = grid[:, :, 25:75].reshape(1, 600, 192)
    assert torch.equal(encoder.pos_embed[:, 2:], expected)
    assert torch.equal(encoder.pos_embed[:, :2], source.pos_embed[:, :2])


def test_unknown_init_and_missing_source_are_errors():
    with pytest.raises(ValueError, match="init must be one of"):
        initialize_encoder(tiny_encoder(128), "imagenet21k")
    with pytest.raises(ValueError, match="needs a source"):
        initialize_encoder(tiny_encoder(128), "audioset", None)


def test_imagenet_weights_offline_fail_at_once_with_the_way_out(monkeypatch):
    """No minute of download retries: one connection attempt, then a clear error."""
    import time

    from speechbrain_ast.pretrained import HubUnavailableError, from_timm

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    start = time.monotonic()
    with pytest.raises(HubUnavailableError, match="hf download timm/.*init: scratch"):
        from_timm("deit_tiny_distilled_patch16_224", n_frames=128)
    assert time.monotonic() - start < 45  # huggingface_hub's retries take about 60 s


def test_offline_advice_for_imagenet_weights_works(monkeypatch, tmp_path):
    """The advice names timm's real Hub repository and a file form from_timm takes.

    It used to suggest ``hf download deit_base_distilled_patch16_384`` (no such
    repository) and passing the downloaded folder (which from_timm rejected).
    Here the advice is followed with a random state dict of the same shapes.
    """
    import re

    from safetensors.torch import save_file

    from speechbrain_ast.pretrained import HubUnavailableError

    name = "deit_base_distilled_patch16_384"
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # offline
    with pytest.raises(HubUnavailableError) as caught:
        from_timm(name, n_frames=128)
    advice = str(caught.value)
    hub_id = timm.models.get_pretrained_cfg(name).hf_hub_id
    assert hub_id == "timm/deit_base_distilled_patch16_384.fb_in1k"
    assert advice.startswith(f"{hub_id}: not in the local HuggingFace cache")
    download = re.search(r"`hf download (\S+) (\S+) --local-dir DIR`", advice)
    assert download and download.groups() == (hub_id, "model.safetensors")
    to_pass = re.search(r"then pass (\S+) \(or its folder\)", advice).group(1)
    assert to_pass == "DIR/model.safetensors"

    # "Download": timm's weights of this model, one block (same key names and
    # shapes per block), saved as the Hub repository stores them.
    deit = timm.create_model(name, pretrained=False, depth=1)
    local_dir = tmp_path / "hub_download"
    local_dir.mkdir()
    save_file(deit.state_dict(), str(local_dir / download.group(2)))
    expected = from_timm(deit, n_frames=128).state_dict()
    for source in (to_pass.replace("DIR", str(local_dir)), str(local_dir)):
        got = from_timm(source, n_frames=128).state_dict()
        assert got.keys() == expected.keys()
        assert all(torch.equal(got[key], expected[key]) for key in expected)

    # The other file timm's repositories hold is found in a folder too.
    (local_dir / "model.safetensors").unlink()
    torch.save(deit.state_dict(), str(local_dir / "pytorch_model.bin"))
    assert len(from_timm(str(local_dir), n_frames=128).blocks) == 1
    (local_dir / "pytorch_model.bin").unlink()
    with pytest.raises(FileNotFoundError, match="no timm weights in this folder"):
        from_timm(str(local_dir), n_frames=128)
