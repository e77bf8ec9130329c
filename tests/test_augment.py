"""Tests for speechbrain_ast.augment (mixup, SpecAugment, noise/roll, losses, weights)."""

import pytest
import torch

from speechbrain_ast.augment import (
    SpecAugment,
    balanced_sample_weights,
    classification_loss,
    mixup_waveforms,
    noise_and_roll,
    sample_beta,
    soft_cross_entropy,
)


def _centred(wav):
    return wav - wav.mean()


# ---------------------------------------------------------------- mixup


def test_mixup_matches_hand_formula_with_recovered_lambda():
    torch.manual_seed(1)
    batch, total = 6, 400
    wavs = torch.randn(batch, total) + 0.3  # non-zero mean on purpose
    lens = torch.tensor([1.0, 0.5, 0.75, 1.0, 0.25, 0.6])
    n_valid = torch.round(lens * total).long()
    for i in range(batch):
        wavs[i, n_valid[i] :] = 0.0
    targets = torch.eye(batch)
    gen = torch.Generator().manual_seed(3)
    out, out_lens, out_t = mixup_waveforms(wavs, lens, targets, prob=1.0, generator=gen)

    assert out_lens is lens
    torch.testing.assert_close(out_t.sum(dim=1), torch.ones(batch))
    n_checked = 0
    for i in range(batch):
        n = int(n_valid[i])
        assert torch.all(out[i, n:] == 0)
        row = out_t[i]
        lam = float(row[i])
        others = [k for k in torch.nonzero(row > 0).flatten().tolist() if k != i]
        assert len(others) == 1
        j = others[0]
        torch.testing.assert_close(row[j], torch.tensor(1.0 - lam), atol=1e-6, rtol=0)
        # partner: centred over its own length, zero-padded / cut to clip i's length
        partner = torch.zeros(n)
        m = min(n, int(n_valid[j]))
        partner[:m] = _centred(wavs[j, : int(n_valid[j])])[:m]
        expected = _centred(lam * _centred(wavs[i, :n]) + (1 - lam) * partner)
        torch.testing.assert_close(out[i, :n], expected, atol=1e-5, rtol=0)
        assert abs(float(out[i, :n].mean())) < 1e-5
        n_checked += 1
    assert n_checked == batch


def test_mixup_partner_uniform_over_other_clips():
    batch = 4
    targets = torch.eye(batch)
    gen = torch.Generator().manual_seed(0)
    counts = torch.zeros(batch, batch)
    for _ in range(300):
        _, _, out_t = mixup_waveforms(
            torch.randn(batch, 20), None, targets, 1.0, generator=gen
        )
        counts += (out_t > 0).float() - targets  # partner indicator
    assert torch.all(counts.diagonal() == 0)  # never mixed with itself
    off = counts[~torch.eye(batch, dtype=torch.bool)]
    assert int(counts.sum()) == 300 * batch
    assert float(off.min()) > 70 and float(off.max()) < 130  # ~100 each


def test_mixup_with_dataset_partners_matches_hand_formula():
    """The official form: clip i mixed with partners[i], cut or padded to clip i."""
    torch.manual_seed(2)
    wavs = torch.randn(3, 300) + 0.2
    lens = torch.tensor([1.0, 0.5, 0.8])
    n_valid = torch.round(lens * 300).long()
    for i in range(3):
        wavs[i, n_valid[i] :] = 0.0
    partner_wavs = torch.randn(3, 500) - 0.4
    partner_lens = torch.tensor([1.0, 0.2, 0.6])
    partner_valid = torch.round(partner_lens * 500).long()
    for i in range(3):
        partner_wavs[i, partner_valid[i] :] = 0.0
    targets, partner_targets = torch.eye(4)[:3], torch.eye(4)[[3, 3, 0]]
    out, _, out_t = mixup_waveforms(
        wavs, lens, targets, prob=1.0, generator=torch.Generator().manual_seed(0),
        partners=(partner_wavs, partner_lens, partner_targets),
    )  # fmt: skip
    for i in range(3):
        n, m = int(n_valid[i]), int(partner_valid[i])
        lam = float(out_t[i, i])  # no partner shares clip i's class
        torch.testing.assert_close(out_t[i].sum(), torch.tensor(1.0))
        partner = torch.zeros(n)
        partner[: min(n, m)] = _centred(partner_wavs[i, :m])[: min(n, m)]
        expected = _centred(lam * _centred(wavs[i, :n]) + (1 - lam) * partner)
        torch.testing.assert_close(out[i, :n], expected, atol=1e-5, rtol=0)
        assert torch.all(out[i, n:] == 0)


def test_dataset_partners_are_uniform_over_the_whole_set():
    from speechbrain_ast.training.mixup_partners import DatasetPartners, mixup_partners

    data = [{"sig": torch.full((10 + n,), float(n)), "targets": torch.eye(5)[n]} for n in range(5)]
    draw = DatasetPartners(data, seed=1)
    counts = torch.zeros(5)
    for _ in range(200):
        _, lengths, targets = draw(10, "cpu")
        counts += targets.sum(0)
    assert counts.sum() == 2000
    assert torch.all((counts - 400).abs() < 60), counts  # ~4.4 standard deviations
    with pytest.raises(TypeError, match="map-style"):
        mixup_partners("dataset", iter(data))
    with pytest.raises(ValueError, match="empty"):
        mixup_partners("dataset", [])


def test_mixup_single_clip_batch():
    wav = torch.randn(1, 50) + 1.0
    out, _, out_t = mixup_waveforms(wav, None, torch.tensor([[0.0, 1.0]]), 1.0)
    torch.testing.assert_close(out, wav - wav.mean(), atol=1e-5, rtol=0)
    torch.testing.assert_close(out_t, torch.tensor([[0.0, 1.0]]))


def test_mixup_prob_zero_is_identity():
    wavs = torch.randn(3, 100)
    targets = torch.eye(3)
    lens = torch.ones(3)
    out, out_lens, out_t = mixup_waveforms(wavs, lens, targets, prob=0.0)
    assert torch.equal(out, wavs) and torch.equal(out_t, targets) and out_lens is lens


def test_mixup_unmixed_samples_identical_and_multihot_union():
    torch.manual_seed(0)
    wavs = torch.randn(64, 50)
    targets = (torch.rand(64, 5) > 0.6).float()
    gen = torch.Generator().manual_seed(0)
    out, _, out_t = mixup_waveforms(wavs, None, targets, prob=0.5, generator=gen)
    same = (out == wavs).all(dim=1)
    assert 10 < int(same.sum()) < 54  # about half mixed
    assert torch.equal(out_t[same], targets[same])
    # soft multi-hot targets stay in [0, 1]; a class in both clips gets 1
    assert float(out_t.min()) >= 0.0 and float(out_t.max()) <= 1.0 + 1e-6


def test_mixup_reproducible_with_generator_and_devices_dtype():
    wavs = torch.randn(4, 80)
    targets = torch.eye(4)
    a = mixup_waveforms(
        wavs, None, targets, 1.0, generator=torch.Generator().manual_seed(5)
    )
    b = mixup_waveforms(
        wavs, None, targets, 1.0, generator=torch.Generator().manual_seed(5)
    )
    assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])
    half = mixup_waveforms(wavs.half(), None, targets.long(), 1.0)
    assert half[0].dtype == torch.float16 and half[2].is_floating_point()


def test_mixup_rejects_bad_input():
    with pytest.raises(ValueError):
        mixup_waveforms(torch.randn(2, 10), None, torch.eye(3), 0.5)
    with pytest.raises(ValueError):
        mixup_waveforms(torch.randn(2, 10), None, torch.eye(2), 1.5)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 10.0])
def test_sample_beta_moments(alpha):
    lam = sample_beta(alpha, 40000, generator=torch.Generator().manual_seed(0)).double()
    assert float(lam.min()) >= 0.0 and float(lam.max()) <= 1.0
    var = 1.0 / (4.0 * (2.0 * alpha + 1.0))  # Beta(a, a)
    assert abs(float(lam.mean()) - 0.5) < 0.01
    assert abs(float(lam.var()) - var) < 0.06 * var
    if alpha == 1.0:  # uniform: check quartiles too
        q = torch.quantile(lam, torch.tensor([0.25, 0.75], dtype=torch.float64))
        torch.testing.assert_close(
            q, torch.tensor([0.25, 0.75], dtype=torch.float64), atol=0.01, rtol=0
        )


# ---------------------------------------------------------------- SpecAugment


def _official_mask(spec, param, axis):
    """The official per-clip masking (torchaudio 0.8 mask_along_axis) on [1, F, T]."""
    value = torch.rand(1) * param
    min_value = torch.rand(1) * (spec.size(axis) - value)
    start = int(min_value.long())
    end = int(min_value.long() + value.long())
    index = torch.arange(spec.size(axis))
    mask = (index >= start) & (index < end)
    mask = mask[:, None] if axis == 1 else mask[None, :]
    return spec.masked_fill(mask, 0.0)


def test_specaugment_matches_official_single_clip_draws():
    fbank = torch.randn(1, 100, 128) - 5.0
    for seed in range(5):
        torch.manual_seed(seed)
        ours = SpecAugment(freq_mask=48, time_mask=40).train()(fbank)
        torch.manual_seed(seed)
        spec = fbank[0].T.unsqueeze(0)  # official (1, F, T)
        spec = _official_mask(spec, 48, axis=1)
        spec = _official_mask(spec, 40, axis=2)
        torch.testing.assert_close(ours, spec[0].T.unsqueeze(0), atol=0, rtol=0)


def test_specaugment_masks_are_bands_of_zeros_per_sample():
    torch.manual_seed(0)
    batch, frames, bins, fmask, tmask = 64, 60, 40, 12, 20
    fbank = torch.rand(batch, frames, bins) + 1.0  # strictly positive
    out = SpecAugment(freq_mask=fmask, time_mask=tmask).train()(fbank)
    assert out.shape == fbank.shape
    zero = out == 0
    assert torch.equal(out[~zero], fbank[~zero])  # only zeros were written
    f_widths, t_widths = [], []
    for b in range(batch):
        freq_cols = zero[b].all(dim=0)  # fully masked frequency bins
        time_rows = zero[b].all(dim=1)  # fully masked frames
        expected = freq_cols[None, :] | time_rows[:, None]
        assert torch.equal(zero[b], expected)
        for band in (freq_cols, time_rows):
            idx = torch.nonzero(band).flatten()
            if len(idx):  # contiguous
                assert int(idx[-1] - idx[0]) + 1 == len(idx)
        f_widths.append(int(freq_cols.sum()))
        t_widths.append(int(time_rows.sum()))
    # widths in [0, param - 1], drawn independently for each clip
    assert max(f_widths) <= fmask - 1 and max(t_widths) <= tmask - 1
    assert len(set(f_widths)) > 5 and len(set(t_widths)) > 5  # independent per clip


def test_specaugment_identity_eval_and_zero_widths():
    fbank = torch.randn(2, 30, 16)
    aug = SpecAugment(8, 8).eval()
    assert aug(fbank) is fbank
    assert SpecAugment(0, 0).train()(fbank) is fbank


# ---------------------------------------------------------------- noise and roll


def test_noise_and_roll_roll_only_matches_torch_roll():
    fbank = torch.arange(5 * 20 * 3, dtype=torch.float32).reshape(5, 20, 3)
    gen = torch.Generator().manual_seed(0)
    out = noise_and_roll(fbank, max_shift=10, noise_scale=0.0, generator=gen)
    shifts = torch.randint(-10, 10, (5,), generator=torch.Generator().manual_seed(0))
    for b in range(5):
        assert -10 <= int(shifts[b]) <= 9
        assert torch.equal(out[b], torch.roll(fbank[b], int(shifts[b]), dims=0))


def test_noise_and_roll_noise_then_roll():
    fbank = torch.randn(4, 16, 8)
    out = noise_and_roll(
        fbank, max_shift=3, noise_scale=0.1, generator=torch.Generator().manual_seed(1)
    )
    gen = torch.Generator().manual_seed(1)
    noise = torch.rand(fbank.shape, generator=gen)
    scale = torch.rand(4, 1, 1, generator=gen)
    shifts = torch.randint(-3, 3, (4,), generator=gen)
    expected = fbank + noise * scale * 0.1
    for b in range(4):
        torch.testing.assert_close(
            out[b], torch.roll(expected[b], int(shifts[b]), dims=0)
        )
    assert out.shape == fbank.shape


def test_noise_and_roll_disabled_is_identity():
    fbank = torch.randn(2, 10, 4)
    assert noise_and_roll(fbank, max_shift=0, noise_scale=0.0) is fbank


# ---------------------------------------------------------------- losses and weights


def test_soft_cross_entropy_hand_value():
    logits = torch.tensor([[0.0, 0.0], [1.0, 3.0]])
    targets = torch.tensor([[0.5, 0.5], [0.25, 0.75]])
    log2 = torch.log(torch.tensor(2.0))
    lse = torch.logsumexp(torch.tensor([1.0, 3.0]), 0)
    row2 = -(0.25 * (1.0 - lse) + 0.75 * (3.0 - lse))
    expected = (log2 + row2) / 2
    torch.testing.assert_close(soft_cross_entropy(logits, targets), expected)


def test_label_smoothing_matches_torch_cross_entropy():
    # an independent implementation: torch's own label_smoothing
    torch.manual_seed(0)
    logits, labels = torch.randn(5, 7), torch.tensor([0, 3, 6, 2, 2])
    onehot = torch.nn.functional.one_hot(labels, 7).float()
    for eps in (0.0, 0.1, 0.3):
        ours = classification_loss(logits, onehot, label_smoothing=eps)
        ref = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=eps)
        assert torch.allclose(ours, ref, atol=1e-6), eps


def test_label_smoothing_multi_label_targets_and_bad_values():
    logits, targets = torch.zeros(1, 4), torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    smoothed = torch.tensor([[0.925, 0.025, 0.925, 0.025]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor([[2.0, -1.0, 0.5, 0.0]]), smoothed
    )
    got = classification_loss(
        torch.tensor([[2.0, -1.0, 0.5, 0.0]]), targets, multi_label=True, label_smoothing=0.1
    )
    assert torch.allclose(got, expected)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="label_smoothing"):
            classification_loss(logits, targets, label_smoothing=bad)


def test_balanced_sample_weights_toy():
    weights = balanced_sample_weights([[0], [0, 2], [1], [0]], n_classes=3)
    w0, w1, w2 = 1000 / 3.01, 1000 / 1.01, 1000 / 1.01
    expected = torch.tensor([w0, w0 + w2, w1, w0], dtype=torch.float64)
    assert weights.dtype == torch.float64
    torch.testing.assert_close(weights, expected)
    with pytest.raises(ValueError):
        balanced_sample_weights([[3]], n_classes=3)
    # official csv-style strings
    torch.testing.assert_close(
        balanced_sample_weights(["a,b", "b"]),
        torch.tensor([1000 / 1.01 + 1000 / 2.01, 1000 / 2.01], dtype=torch.float64),
    )
