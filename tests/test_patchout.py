"""Patchout (PaSST) in the AST lobe: training only, positions first, any geometry.

* with patchout off, or in evaluation, the outputs are exactly those of the
  encoder without the option (the pre-patchout computation, re-done here);
* in training the transformer sees the kept tokens only: each is the token
  of the full grid at its own position (positional embedding added before
  dropping), rows/columns dropped as a grid, then single tokens per clip;
* deterministic under the seed, resumable through the saved RNG state;
* works for any stride and length, trains (gradients flow), and bad settings
  fail at construction with the grid in the message;
* the ESC-50 YAML passes its keys to the lobe.
"""

import pathlib

import pytest
import torch
import torch.nn.functional as F
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ast.model import AudioSpectrogramTransformer, patchout
from speechbrain_ast.training.resumable import capture_rng_state, restore_rng_state

REPO = pathlib.Path(__file__).resolve().parent.parent
SMALL = {"n_frames": 128, "embed_dim": 32, "depth": 2, "num_heads": 2}


def reference_features(model, fbank):
    """The encoder's computation as it was before patchout existed."""
    x = model.fit_length(fbank).unsqueeze(1).transpose(2, 3)
    x = model.patch_embed(x)
    prefix = torch.cat([model.cls_token, model.dist_token], dim=1)
    x = torch.cat([prefix.expand(x.shape[0], -1, -1), x], dim=1) + model.pos_embed
    for block in model.blocks:
        x = block(x)
    return model.norm(x)


def test_patchout_off_gives_the_exact_previous_outputs():
    model = AudioSpectrogramTransformer(**SMALL)
    fbank = torch.randn(3, 128, 128)
    with torch.no_grad():
        expected = reference_features(model, fbank)
        assert torch.equal(model.eval().forward_features(fbank), expected)
        assert torch.equal(model.train().forward_features(fbank), expected)


def test_inference_is_unchanged_by_patchout_settings():
    plain = AudioSpectrogramTransformer(**SMALL).eval()
    with_patchout = AudioSpectrogramTransformer(
        **SMALL, patchout_freq=4, patchout_time=5, token_drop=0.3
    ).eval()
    with_patchout.load_state_dict(plain.state_dict())
    fbank = torch.randn(2, 128, 128)
    with torch.no_grad():
        assert torch.equal(with_patchout(fbank), plain(fbank))
        assert with_patchout.patch_tokens(fbank).shape == (2, 12, 12, 32)


def block_inputs(model, fbank):
    """Tokens entering the first block (after patchout)."""
    seen = []
    handle = model.blocks[0].register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    with torch.no_grad():
        model(fbank)
    handle.remove()
    return seen[0]


def test_kept_tokens_keep_their_own_positions():
    model = AudioSpectrogramTransformer(**SMALL, patchout_freq=3, patchout_time=5)
    fbank = torch.randn(2, 128, 128)
    full = block_inputs(model.eval(), fbank)  # [2, 2 + 12 * 12, D]
    torch.manual_seed(7)
    kept = block_inputs(model.train(), fbank)
    assert kept.shape == (2, 2 + 9 * 7, 32)
    assert torch.equal(kept[:, :2], full[:, :2])  # prefix tokens untouched
    # Each kept token is the full-grid token at its own (frequency, time) cell.
    torch.manual_seed(7)
    rows = torch.randperm(12)[:9].sort().values
    cols = torch.randperm(12)[:7].sort().values
    index = (rows[:, None] * 12 + cols[None, :]).flatten()
    assert torch.equal(kept[:, 2:], full[:, 2:][:, index])


def test_structured_then_unstructured_dropping():
    grid = torch.arange(2 * 12 * 10.0).reshape(2, 120, 1)
    torch.manual_seed(0)
    out = patchout(grid, 12, 10, drop_freq=4, drop_time=3)
    assert out.shape == (2, 8 * 7, 1)
    assert torch.equal(out[0], out[1] - 120)  # same rows/columns for the batch
    cells = out[0, :, 0].long()
    rows, cols = cells // 10, cells % 10
    assert len(set(rows.tolist())) == 8 and len(set(cols.tolist())) == 7
    assert torch.equal(cells, cells.sort().values)  # order kept
    out = patchout(grid, 12, 10, token_drop=0.25)
    assert out.shape == (2, 90, 1)
    assert not torch.equal(out[0], out[1] - 120)  # each clip its own tokens
    with pytest.raises(ValueError, match="grid"):
        patchout(grid, 11, 10)


def test_deterministic_under_the_seed_and_resumable():
    model = AudioSpectrogramTransformer(**SMALL, patchout_freq=2, patchout_time=6).train()
    fbank = torch.randn(2, 128, 128)
    with torch.no_grad():
        torch.manual_seed(3)
        first = model(fbank)
        torch.manual_seed(3)
        assert torch.equal(model(fbank), first)
        # A checkpoint's RNG state replays the same patchout masks.
        state = capture_rng_state()
        after_save = model(fbank)
        model(fbank)
        restore_rng_state(state)
        assert torch.equal(model(fbank), after_save)
        torch.manual_seed(4)
        assert not torch.equal(model(fbank), first)


@pytest.mark.parametrize(
    "fstride, tstride, n_frames, drop",
    [(10, 10, 1024, (4, 40)), (16, 16, 100, (3, 2)), (12, 7, 301, (1, 20))],
)
def test_any_stride_and_length_trains(fstride, tstride, n_frames, drop):
    model = AudioSpectrogramTransformer(
        n_frames=n_frames,
        fstride=fstride,
        tstride=tstride,
        embed_dim=16,
        depth=1,
        num_heads=2,
        patchout_freq=drop[0],
        patchout_time=drop[1],
        token_drop=0.2,
        activation_checkpointing=True,
    ).train()
    tokens = block_inputs(model, torch.randn(2, n_frames, 128))
    kept = (model.f_dim - drop[0]) * (model.t_dim - drop[1])
    assert tokens.shape[1] == 2 + round(kept * 0.8)
    loss = F.mse_loss(model(torch.randn(2, n_frames, 128)), torch.zeros(2, 1, 16))
    loss.backward()
    assert model.pos_embed.grad.abs().sum() > 0
    assert model.patch_embed.proj.weight.grad.abs().sum() > 0


def test_bad_settings_fail_with_the_grid_in_the_message():
    with pytest.raises(ValueError, match="12 x 12"):
        AudioSpectrogramTransformer(**SMALL, patchout_time=12)
    with pytest.raises(ValueError, match="patchout_freq"):
        AudioSpectrogramTransformer(**SMALL, patchout_freq=-1)
    with pytest.raises(ValueError, match="token_drop"):
        AudioSpectrogramTransformer(**SMALL, token_drop=1.0)
    model = AudioSpectrogramTransformer(**SMALL, patchout_time=2).train()
    with pytest.raises(RuntimeError, match="eval"):
        model.patch_tokens(torch.randn(1, 128, 128))


def test_esc50_yaml_passes_patchout_to_the_lobe(tmp_path):
    overrides = {
        "data_folder": str(tmp_path),
        "output_folder": str(tmp_path / "out"),
        "init": "scratch",
        "embed_dim": 32,
        "depth": 1,
        "num_heads": 2,
        "patchout_freq": 4,
        "patchout_time": 20,
        "token_drop": 0.1,
    }
    with open(REPO / "recipes" / "ESC50" / "hparams" / "ast.yaml") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    encoder = hparams["embedding_model"]
    assert (encoder.patchout_freq, encoder.patchout_time, encoder.token_drop) == (4, 20, 0.1)
    with open(REPO / "recipes" / "ESC50" / "hparams" / "ast.yaml") as handle:
        defaults = load_hyperpyyaml(handle, {k: overrides[k] for k in list(overrides)[:6]})
    assert not defaults["embedding_model"].train().patchout_active  # off by default
