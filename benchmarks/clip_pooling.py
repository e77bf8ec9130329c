"""The small-data ECAPA pooled over each clip's own frames, not the whole window.

An experiment of issue 18 (not a shipped setting): the default
``ecapa_small_scratch`` pools every frame of the ``n_frames`` window, so a
clip shorter than the window is pooled with its zero padding (the clip's
mean after per-clip normalisation), more of it the shorter the clip. Here
the ECAPA's squeeze-excitation means and its attentive statistics pooling
see only the frames the clip has: frames that are 0 in every bin (padding,
and SpecAugment's time masks, which are the same value) are masked out,
wherever the time roll moved them. Tagging and the ONNX graph do not know
this encoder (they would pool the window); the runs score with the recipe's own
PyTorch evaluation.

``python benchmarks/clip_pooling.py SPLITS --out OUT --datasets D --seeds 1 2
-- OVERRIDES`` runs ``small_data_compare.py`` with the default YAML whose
encoder class is swapped for ``ClipPooledECAPA`` (written to OUT).
"""

import os
import sys

import torch
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, SERes2NetBlock

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_YAML = os.path.join(
    REPO, "recipes", "CustomData", "hparams", "ecapa_small_scratch.yaml"
)
ECAPA_CLASS = "speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN"


def real_frame_mask(feats, pad_value=0.0):
    """``[B, 1, T]`` float mask of the frames that are not ``pad_value`` in every bin.

    A clip with no such frame (digital silence) keeps every frame, so that
    its statistics stay defined.

    Example
    -------
    >>> feats = torch.tensor([[[0.0], [1.0], [0.0], [2.0]], [[0.0], [0.0], [0.0], [0.0]]])
    >>> real_frame_mask(feats).squeeze(1).tolist()
    [[0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """
    real = (feats != pad_value).any(dim=-1)
    real = real | ~real.any(dim=1, keepdim=True)
    return real.unsqueeze(1).to(feats.dtype)


class ClipPooledECAPA(ECAPA_TDNN):
    """SpeechBrain's ECAPA-TDNN whose means and pooling see the clip's frames only.

    Same constructor (plus ``pad_value``) and weights as ``ECAPA_TDNN``. The
    convolutions run over the whole window as before; the squeeze-excitation
    means and the attentive statistics pooling leave out the frames that are
    ``pad_value`` in every bin (the padding, and SpecAugment's time masks),
    wherever a time roll put them. The mask comes from the values, so the
    module is a function of its input alone, in a batch or not.

    Arguments
    ---------
    *args, **kwargs
        Those of ``ECAPA_TDNN``.
    pad_value : float
        The value padded frames have at the encoder's input (0 after
        per-clip normalisation).

    Example
    -------
    >>> ecapa = ClipPooledECAPA(
    ...     20, channels=[8, 8, 8, 8, 24], attention_channels=4, se_channels=4, lin_neurons=4
    ... ).eval()
    >>> full = torch.randn(2, 50, 20)
    >>> torch.allclose(ecapa(full), ECAPA_TDNN.forward(ecapa, full), atol=1e-5)
    True
    >>> padded = full.clone()
    >>> padded[1, 30:] = 0.0
    >>> lengths = torch.tensor([1.0, 29.5 / 50])  # 30 frames (SpeechBrain's mask is <)
    >>> torch.allclose(ecapa(padded), ECAPA_TDNN.forward(ecapa, padded, lengths), atol=1e-5)
    True
    """

    def __init__(self, *args, pad_value=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad_value = float(pad_value)

    def forward(self, x, lengths=None):
        """Embed ``[B, T, n_mels]`` as ``[B, 1, D]`` (``lengths`` is not needed)."""
        mask = real_frame_mask(x, self.pad_value)
        if lengths is not None:
            frames = torch.arange(x.shape[1], device=x.device)
            mask = mask * (frames < lengths.unsqueeze(1) * x.shape[1]).unsqueeze(1)
        x = x.transpose(1, 2)
        outputs = []
        for block in self.blocks:
            x = self._block(block, x, mask)
            outputs.append(x)
        x = self.mfa(torch.cat(outputs[1:], dim=1))
        x = self.fc(self.asp_bn(self._pool(x, mask)))
        return x.transpose(1, 2)

    @staticmethod
    def _block(block, x, mask):
        """One TDNN or SE-Res2Net block, the SE mean over the masked frames."""
        if not isinstance(block, SERes2NetBlock):
            return block(x)
        residual = block.shortcut(x) if block.shortcut else x
        x = block.tdnn2(block.res2net_block(block.tdnn1(x)))
        se = block.se_block
        squeeze = (x * mask).sum(dim=2, keepdim=True) / mask.sum(dim=2, keepdim=True)
        scale = se.sigmoid(se.conv2(se.relu(se.conv1(squeeze))))
        return scale * x + residual

    def _pool(self, x, mask):
        """Attentive mean and std over the masked frames, ``[B, 2C, 1]``."""
        asp = self.asp
        weights = mask / mask.sum(dim=2, keepdim=True)
        if asp.global_context:
            mean, std = _weighted_statistics(x, weights, asp.eps)
            length = x.shape[2]
            attn = torch.cat(
                [
                    x,
                    mean.unsqueeze(2).expand(-1, -1, length),
                    std.unsqueeze(2).expand(-1, -1, length),
                ],
                dim=1,
            )
        else:
            attn = x
        attn = asp.conv(asp.tanh(asp.tdnn(attn))).masked_fill(mask == 0, float("-inf"))
        mean, std = _weighted_statistics(x, torch.softmax(attn, dim=2), asp.eps)
        return torch.cat([mean, std], dim=1).unsqueeze(2)


def _weighted_statistics(x, weights, eps):
    """Mean and std of ``[B, C, T]`` over time with weights summing to 1."""
    mean = (weights * x).sum(dim=2)
    std = (weights * (x - mean.unsqueeze(2)).pow(2)).sum(dim=2).clamp(eps).sqrt()
    return mean, std


def clip_pooled_yaml(out):
    """Write the default YAML with this encoder class to ``out``; return its path."""
    with open(DEFAULT_YAML, encoding="utf-8") as handle:
        text = handle.read()
    if text.count(ECAPA_CLASS) != 1:
        raise ValueError(f"{DEFAULT_YAML}: expected one {ECAPA_CLASS} encoder")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "ecapa_clip_pooled.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(
            text.replace(ECAPA_CLASS, "benchmarks.clip_pooling.ClipPooledECAPA")
        )
    return path


def main(argv=None):
    """Run ``small_data_compare.py`` with the clip-pooled encoder."""
    from benchmarks import small_data_compare

    argv = list(sys.argv[1:] if argv is None else argv)
    out = argv[argv.index("--out") + 1]
    return small_data_compare.main(["--hparams", clip_pooled_yaml(out), *argv])


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    sys.exit(main())
