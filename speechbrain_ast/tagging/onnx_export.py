"""ONNX export of a whole tagger (AST, Xvector, ECAPA): 16 kHz audio in, class scores out.

One graph holds everything a model folder's ``AudioTagger`` computes for a
window of audio: the Kaldi fbank (``KaldiFbank``: clip-mean removal, 25 ms
frames every 10 ms, per-frame DC removal, pre-emphasis, symmetric Hann
window, 512-point power spectrum, Kaldi mel banks, log), the fixed
normalisation, the pad/cut to the model's ``n_frames``, the encoder and the
head. Inputs and outputs:

* ``waveform``: float32 ``[batch, samples]`` at the folder's sample rate,
  both axes dynamic, at least one 25 ms frame (400 samples at 16 kHz); a
  window of the model's length or shorter (longer input is cut after
  ``n_frames`` frames, as in PyTorch);
* ``logits``: float32 ``[batch, n_classes]``;
* ``scores``: float32 ``[batch, n_classes]``, sigmoid of the logits for a
  multi-label folder, softmax otherwise (what ``AudioTagger.score_batch``
  returns).

The ONNX metadata holds the label names (JSON list), the sample rate, the
window and the default tagging hop (samples), so a runtime outside Python
can cut long audio the way ``AudioTagger`` does.

The encoder is an AST, SpeechBrain's ``Xvector`` or its ``ECAPA_TDNN``
(``exportable_encoder``; the Xvector without the noise its statistics pooling
adds, see ``ExportableXvector``; the ECAPA with a batch-dynamic pooling, see
``ExportableECAPA``). Each AST attention is written as one
``com.microsoft.MultiHeadAttention`` node
(onnxruntime's fused CPU kernel, like PyTorch's fused SDPA); with
``attention="standard"`` it is written in plain ONNX ops instead, for other
runtimes.

``torch.fft`` has no ONNX export that onnxruntime runs unchanged on every
version (and onnxruntime's ``DFT`` op is 4-5x slower than the product below on
one CPU thread), so the graph computes the 512-point DFT of the 400-sample
frames as a product with a fixed cosine/sine basis into which the per-frame
DC removal, pre-emphasis and window are folded (``ExportableKaldiFbank``);
frames are rows of a reshaped waveform, not an index gather.
``tests/test_onnx_export.py`` proves that this equals ``KaldiFbank``.

Opset 20 is used: LayerNormalization and the exact (erf) ``Gelu`` are native
ops there, and onnxruntime has CPU kernels for both since 1.17. At opset 18
each GELU is written as five element-wise ops (Div, Erf, Add, Mul, Mul) that
onnxruntime does not fuse; one ``Gelu`` node made the demo-size 10 s graph
about 6 % faster on one CPU thread (``benchmarks/RESULTS.md``).

``--int8`` quantises the weights of the encoder's and head's matrix products
with onnxruntime's dynamic quantisation (int8 weights, activations quantised
on the fly); the feature computation (DFT basis, mel banks) stays float32.

``export_tagger`` is the one ONNX export of speechbrain-ast (the
``export-onnx`` command and ``AudioTagger.use_onnx`` call it). The module is
over 500 lines because its pieces (the attention op and its ONNX
translation, the exportable fbank, the waveform wrapper, the metadata and
the int8 pass) exist only for that one graph and are checked together by
``tests/test_onnx_export.py``.

Authors
 * speechbrain-ast contributors 2026
"""

import contextlib
import copy
import json
import logging
import math
import os
import tempfile
import warnings

import torch
from torch import nn

from speechbrain_ast.model import Attention, AudioSpectrogramTransformer

OPSET = 20
FORMAT_VERSION = "1"
ATTENTION_KINDS = ("onnxruntime", "standard")


@torch.library.custom_op("speechbrain_ast::multi_head_attention", mutates_args=())
def multi_head_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, num_heads: int
) -> torch.Tensor:
    """Self-attention on ``[B, N, D]`` projections; exported as one ONNX node.

    In PyTorch this is ``scaled_dot_product_attention`` over ``num_heads``
    heads; the exporter writes it as onnxruntime's fused
    ``com.microsoft.MultiHeadAttention`` (see ``_multi_head_attention_onnx``).

    Arguments
    ---------
    query, key, value : torch.Tensor
        Projections ``[B, N, D]``.
    num_heads : int
        Number of heads.

    Returns
    -------
    torch.Tensor
        Attention output ``[B, N, D]`` (heads concatenated).

    Example
    -------
    >>> x = torch.randn(2, 5, 8)
    >>> multi_head_attention(x, x, x, 2).shape
    torch.Size([2, 5, 8])
    """
    batch, n_tokens, dim = query.shape

    def heads(x):
        return x.reshape(batch, n_tokens, num_heads, dim // num_heads).transpose(1, 2)

    out = nn.functional.scaled_dot_product_attention(
        heads(query), heads(key), heads(value)
    )
    return out.transpose(1, 2).reshape(batch, n_tokens, dim)


@multi_head_attention.register_fake
def _(query, key, value, num_heads):
    return torch.empty_like(query)


def _multi_head_attention_onnx(query, key, value, num_heads: int):
    """ONNX translation of ``multi_head_attention``: one onnxruntime node."""
    import onnxscript
    from onnx.defs import OpSchema

    parameter = OpSchema.FormalParameter
    # com.microsoft ops have no schema in the onnx package: declare the part used.
    schema = OpSchema(
        "MultiHeadAttention",
        "com.microsoft",
        1,
        inputs=[
            parameter("query", "T"),
            parameter("key", "T"),
            parameter("value", "T"),
        ],
        outputs=[parameter("output", "T")],
        type_constraints=[("T", ["tensor(float)"], "")],
        attributes=[OpSchema.Attribute("num_heads", OpSchema.AttrType.INT, "heads")],
    )
    opset = onnxscript.values.Opset("com.microsoft", 1)
    node = onnxscript.values.Op(opset, "MultiHeadAttention", schema)
    return node(query, key, value, num_heads=num_heads)


class FusedAttention(nn.Module):
    """An ``Attention`` whose heads run in one exportable op (same weights).

    Arguments
    ---------
    attention : Attention
        The encoder's attention (its ``qkv`` and ``proj`` are reused).

    Example
    -------
    >>> attention = Attention(16, 2).eval()
    >>> x = torch.randn(2, 5, 16)
    >>> torch.allclose(FusedAttention(attention)(x), attention(x), atol=1e-6)
    True
    """

    def __init__(self, attention):
        super().__init__()
        self.num_heads = attention.num_heads
        self.qkv = attention.qkv
        self.proj = attention.proj

    def forward(self, x):
        """Attend over ``[B, N, D]`` tokens."""
        query, key, value = self.qkv(x).chunk(3, dim=-1)
        return self.proj(multi_head_attention(query, key, value, self.num_heads))


class ExportableXvector(nn.Module):
    """SpeechBrain's ``Xvector`` in a form ``torch.export`` traces (same weights).

    ``Xvector.forward`` offers ``lengths=`` to every block and falls back on
    ``TypeError``; ``torch.export`` cannot trace through that exception. Here
    each block gets the features only: the tagger pads or cuts every window
    to ``n_frames``, so all frames count, as in the PyTorch tagger. The
    statistics pooling returns the mean and standard deviation over time
    without the random noise of at most 9e-5 that SpeechBrain adds to the mean
    on every call, so the graph is deterministic.

    Arguments
    ---------
    xvector : speechbrain.lobes.models.Xvector.Xvector
        The encoder (its blocks are reused, not copied).

    Example
    -------
    >>> from speechbrain.lobes.models.Xvector import Xvector
    >>> xvector = Xvector(in_channels=20, tdnn_channels=[8] * 5, lin_neurons=4).eval()
    >>> feats = torch.randn(2, 50, 20)
    >>> torch.allclose(ExportableXvector(xvector)(feats), xvector(feats), atol=1e-3)
    True
    """

    def __init__(self, xvector):
        super().__init__()
        from speechbrain.nnet.pooling import StatisticsPooling

        self.blocks = nn.ModuleList(xvector.blocks)
        self.pooling = {
            index: (block.return_mean, block.return_std, block.eps)
            for index, block in enumerate(xvector.blocks)
            if isinstance(block, StatisticsPooling)
        }
        self.n_frames = getattr(xvector, "n_frames", None)

    def forward(self, feats):
        """Embed ``[B, T, n_mels]`` features as ``[B, 1, D]``."""
        x = feats
        for index, block in enumerate(self.blocks):
            if index in self.pooling:
                with_mean, with_std, eps = self.pooling[index]
                stats = [x.mean(dim=1)] if with_mean else []
                stats += [x.std(dim=1) + eps] if with_std else []
                x = torch.cat(stats, dim=1).unsqueeze(1)
            else:
                x = block(x)
        return x


class ExportableECAPA(nn.Module):
    """SpeechBrain's ``ECAPA_TDNN`` with a batch-dynamic graph (same weights).

    ``ECAPA_TDNN`` builds its pooling mask from a lengths tensor of the batch
    size, which ``torch.export`` specialises to the example batch. The tagger
    pads or cuts every window to ``n_frames``, so every frame counts: here the
    attentive statistics pooling is written without a mask (means over time),
    which is what the mask of all-ones lengths computes.

    Arguments
    ---------
    ecapa : speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
        The encoder (its layers are reused, not copied).

    Example
    -------
    >>> from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    >>> ecapa = ECAPA_TDNN(
    ...     20, channels=[8, 8, 8, 8, 24], attention_channels=4, se_channels=4, lin_neurons=4
    ... ).eval()
    >>> feats = torch.randn(2, 50, 20)
    >>> torch.allclose(ExportableECAPA(ecapa)(feats), ecapa(feats), atol=1e-5)
    True
    """

    def __init__(self, ecapa):
        super().__init__()
        self.blocks = nn.ModuleList(ecapa.blocks)
        self.mfa = ecapa.mfa
        self.asp = ecapa.asp
        self.asp_bn = ecapa.asp_bn
        self.fc = ecapa.fc

    def pool(self, x):
        """Attentive mean and standard deviation of ``[B, C, T]`` as ``[B, 2C, 1]``."""
        eps = self.asp.eps
        if self.asp.global_context:
            mean = x.mean(dim=2, keepdim=True)
            std = (x - mean).pow(2).mean(dim=2, keepdim=True).clamp(eps).sqrt()
            attn = torch.cat([x, mean.expand_as(x), std.expand_as(x)], dim=1)
        else:
            attn = x
        weights = torch.softmax(self.asp.conv(self.asp.tanh(self.asp.tdnn(attn))), dim=2)
        mean = (weights * x).sum(dim=2)
        std = (weights * (x - mean.unsqueeze(2)).pow(2)).sum(dim=2).clamp(eps).sqrt()
        return torch.cat([mean, std], dim=1).unsqueeze(2)

    def forward(self, feats):
        """Embed ``[B, T, n_mels]`` features as ``[B, 1, D]``."""
        x = feats.transpose(1, 2)
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        x = self.mfa(torch.cat(outputs[1:], dim=1))
        x = self.fc(self.asp_bn(self.pool(x)))
        return x.transpose(1, 2)


def exportable_encoder(embedding_model, attention="onnxruntime"):
    """The encoder as the ONNX graph computes it: an AST, Xvector or ECAPA-TDNN.

    Arguments
    ---------
    embedding_model : torch.nn.Module
        An ``AudioSpectrogramTransformer``, a SpeechBrain ``Xvector`` or
        ``ECAPA_TDNN``.
    attention : str
        For an AST: ``"onnxruntime"`` swaps each attention for
        ``FusedAttention`` (on a copy, the caller's encoder is unchanged);
        ``"standard"`` keeps it. Ignored for the Xvector and the ECAPA.

    Returns
    -------
    torch.nn.Module
        Same weights, same outputs, traceable by ``torch.export``.

    Example
    -------
    >>> encoder = AudioSpectrogramTransformer(n_frames=16, embed_dim=16, depth=1, num_heads=2)
    >>> type(exportable_encoder(encoder).blocks[0].attn).__name__
    'FusedAttention'
    >>> exportable_encoder(torch.nn.Linear(2, 2))
    Traceback (most recent call last):
    ...
    ValueError: ONNX export covers AST, Xvector and ECAPA-TDNN encoders, not Linear: tag and evaluate this model folder with the PyTorch backend
    """
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    from speechbrain.lobes.models.Xvector import Xvector

    if isinstance(embedding_model, Xvector):
        return ExportableXvector(embedding_model)
    if isinstance(embedding_model, ECAPA_TDNN):
        return ExportableECAPA(embedding_model)
    if not isinstance(embedding_model, AudioSpectrogramTransformer):
        raise ValueError(
            "ONNX export covers AST, Xvector and ECAPA-TDNN encoders, not "
            f"{type(embedding_model).__name__}: tag and evaluate this model "
            "folder with the PyTorch backend"
        )
    if attention == "onnxruntime":
        embedding_model = copy.deepcopy(embedding_model)
        for block in embedding_model.blocks:
            if isinstance(block.attn, Attention):
                block.attn = FusedAttention(block.attn)
    return embedding_model


class ExportableKaldiFbank(nn.Module):
    """``KaldiFbank`` for equal-length batches, in ops that export to ONNX.

    Computes the same features as ``KaldiFbank`` with every clip of the
    batch as long as the tensor (no per-clip lengths), without ``torch.fft``
    and without shape-dependent branches. The per-frame steps before the
    DFT (DC removal, pre-emphasis, window) are linear maps of the frame, so
    they are folded with the real DFT into one fixed ``[window, 2 * bins]``
    matrix, composed in float64: the spectrum is one matrix product. Frames
    are cut without an index gather: the waveform is viewed as rows of
    ``window_shift`` samples and a frame is ``ceil(window / shift)``
    consecutive rows (the matrix has zero rows for the samples past the
    window). On one CPU thread the demo-size model's 10 s graph runs in 53
    instead of 65 ms with this (a gather and one op per step before;
    ``benchmarks/RESULTS.md``), and the features are closer to a float64
    reference than ``KaldiFbank``'s own.

    Arguments
    ---------
    fbank : KaldiFbank
        The feature extractor to reproduce (its settings and mel banks).

    Example
    -------
    >>> from speechbrain_ast.features import KaldiFbank
    >>> fbank = KaldiFbank(n_frames=128)
    >>> wavs = torch.randn(2, 16000)
    >>> difference = (ExportableKaldiFbank(fbank)(wavs) - fbank(wavs)).abs()
    >>> bool(difference.mean() < 1e-5), bool(difference.max() < 1e-2)
    (True, True)
    """

    def __init__(self, fbank):
        super().__init__()
        if fbank.n_frames is None:
            raise ValueError("the fbank must have n_frames set (the model's input)")
        self.window_size = size = fbank.window_size
        self.window_shift = shift = fbank.window_shift
        self.n_frames = fbank.n_frames
        self.remove_clip_mean = fbank.remove_clip_mean
        self.pad_value = float(fbank.pad_value)
        # Real DFT of a frame zero-padded to n_fft: only the first
        # window_size samples are non-zero, so the basis has that many rows.
        n_bins = fbank.n_fft // 2 + 1
        angle = (
            2.0
            * math.pi
            * torch.outer(
                torch.arange(size, dtype=torch.float64),
                torch.arange(n_bins, dtype=torch.float64),
            )
            / fbank.n_fft
        )
        basis = torch.cat([torch.cos(angle), torch.sin(angle)], dim=1)
        # Row-vector maps: frame @ dc @ emphasis @ diag(window) @ basis.
        dc = torch.eye(size, dtype=torch.float64) - 1.0 / size
        emphasis = torch.eye(size, dtype=torch.float64)
        emphasis[0, 0] -= fbank.preemphasis  # Kaldi's edge rule: x0 - p * x0
        steps = torch.arange(size - 1)
        emphasis[steps, steps + 1] = -fbank.preemphasis
        window = fbank.window.detach().double()[:, None]
        self.rows_per_frame = -(-size // shift)
        folded = torch.zeros(self.rows_per_frame * shift, 2 * n_bins).double()
        folded[:size] = dc @ emphasis @ (window * basis)
        self.register_buffer("dft_basis", folded.float())
        self.register_buffer("mel_banks", fbank.mel_banks.detach().clone())

    def forward(self, wavs):
        """Log-mel features ``[B, n_frames, n_mels]`` of waveforms ``[B, S]``."""
        wavs = wavs.float()
        if self.remove_clip_mean:
            # Per-frame DC removal makes this redundant in exact arithmetic; in
            # float32 it keeps a large offset out of the DFT product's sums.
            wavs = wavs - wavs.mean(dim=1, keepdim=True)
        shift, rows = self.window_shift, self.rows_per_frame
        n_frames_in = (wavs.shape[1] - self.window_size) // shift + 1
        n_rows = n_frames_in + rows - 1
        # Zeros past the end so that the last frame's rows exist, then cut.
        wavs = nn.functional.pad(wavs, (0, rows * shift))[:, : n_rows * shift]
        grid = wavs.reshape(wavs.shape[0], n_rows, shift)
        frames = torch.cat([grid[:, j : j + n_frames_in] for j in range(rows)], dim=2)
        spectrum = frames @ self.dft_basis
        n_bins = self.mel_banks.shape[0]
        real, imag = spectrum[..., :n_bins], spectrum[..., n_bins:]
        power = real * real + imag * imag
        energies = power @ self.mel_banks
        feats = energies.clamp_min(torch.finfo(torch.float32).eps).log()
        # Pad (raw-fbank pad value) then cut: one path for any input length.
        padding = feats.new_full(
            (feats.shape[0], self.n_frames, feats.shape[2]), self.pad_value
        )
        return torch.cat([feats, padding], dim=1)[:, : self.n_frames]


class WaveformTagger(nn.Module):
    """A model folder's whole computation: waveform ``[B, S]`` -> logits, scores.

    Arguments
    ---------
    compute_features : KaldiFbank
        The folder's feature extractor (``n_frames`` set).
    mean_var_norm : FixedNormalization
        The folder's normalisation.
    embedding_model : torch.nn.Module
        The encoder: an ``AudioSpectrogramTransformer``, SpeechBrain's
        ``Xvector`` or ``ECAPA_TDNN`` (``exportable_encoder``).
    classifier : ClassificationHead
        The head.
    multi_label : bool
        Scores are sigmoids (True) or a softmax over classes (False).
    attention : str
        ``"onnxruntime"``: each attention is one fused
        ``com.microsoft.MultiHeadAttention`` node (fast on onnxruntime, the
        only runtime that has it); ``"standard"``: plain ONNX ops (MatMul,
        Softmax) that any runtime runs. The PyTorch outputs are the same.

    Example
    -------
    >>> from speechbrain_ast.features import FixedNormalization, KaldiFbank
    >>> from speechbrain_ast.model import (
    ...     AudioSpectrogramTransformer,
    ...     ClassificationHead,
    ... )
    >>> model = WaveformTagger(
    ...     KaldiFbank(n_frames=128),
    ...     FixedNormalization(dataset="esc50"),
    ...     AudioSpectrogramTransformer(n_frames=128, embed_dim=32, depth=1, num_heads=2),
    ...     ClassificationHead(32, 3),
    ...     multi_label=False,
    ... )
    >>> logits, scores = model(torch.randn(2, 16000))
    >>> logits.shape, scores.sum(dim=1).allclose(torch.ones(2))
    (torch.Size([2, 3]), True)
    """

    def __init__(
        self,
        compute_features,
        mean_var_norm,
        embedding_model,
        classifier,
        multi_label,
        attention="onnxruntime",
    ):
        super().__init__()
        if attention not in ATTENTION_KINDS:
            raise ValueError(
                f"attention must be one of {ATTENTION_KINDS}, got {attention!r}"
            )
        encoder = exportable_encoder(embedding_model, attention)
        expected = getattr(embedding_model, "n_frames", compute_features.n_frames)
        if compute_features.n_frames != expected:
            raise ValueError(
                f"features give {compute_features.n_frames} frames, the encoder "
                f"expects {expected}"
            )
        self.features = ExportableKaldiFbank(compute_features)
        self.mean_var_norm = mean_var_norm
        self.embedding_model = encoder
        self.classifier = classifier
        self.multi_label = bool(multi_label)

    def forward(self, waveform):
        """Return ``(logits, scores)``, each ``[B, n_classes]``."""
        feats = self.mean_var_norm(self.features(waveform))
        logits = self.classifier(self.embedding_model(feats)).flatten(1)
        if self.multi_label:
            return logits, torch.sigmoid(logits)
        return logits, torch.softmax(logits, dim=-1)

    @classmethod
    def from_tagger(cls, tagger, attention="onnxruntime"):
        """Build from a loaded ``AudioTagger`` (fp32, its modules on CPU)."""
        mods = tagger.mods
        return cls(
            mods.compute_features,
            mods.mean_var_norm,
            mods.embedding_model,
            mods.classifier,
            tagger.multi_label,
            attention,
        ).eval()


def tagger_metadata(tagger, int8=False, attention="onnxruntime"):
    """The ONNX metadata of a tagger's graph: labels, rate, window and hop.

    Arguments
    ---------
    tagger : AudioTagger
        The loaded model folder.
    int8 : bool
        Whether the graph's matrix products are quantised.
    attention : str
        How attention is written (see ``WaveformTagger``).

    Returns
    -------
    dict
        String keys and string values (ONNX ``metadata_props``).

    Example
    -------
    >>> from speechbrain_ast.tagging.tagger import AudioTagger
    >>> from tests.helpers import tiny_model_folder
    >>> tagger = AudioTagger.from_hparams(tiny_model_folder(getfixture("tmpdir")))
    >>> meta = tagger_metadata(tagger)
    >>> json.loads(meta["labels"]), meta["window_samples"], meta["hop_samples"]
    (['a', 'b', 'c'], '20720', '10360')
    """
    features = tagger.mods.compute_features
    window = tagger.window_samples
    return {
        "format": f"speechbrain-ast waveform tagger {FORMAT_VERSION}",
        "labels": json.dumps(tagger.labels),
        "sample_rate": str(tagger.sample_rate),
        "window_samples": str(window),
        "hop_samples": str(max(window // 2, 1)),
        "min_samples": str(features.window_size),
        "frame_length_samples": str(features.window_size),
        "frame_shift_samples": str(features.window_shift),
        "n_frames": str(features.n_frames),
        "multi_label": json.dumps(tagger.multi_label),
        "int8": json.dumps(bool(int8)),
        "attention": attention,
        "outputs": "logits: raw class logits; scores: sigmoid (multi_label) or softmax",
    }


def export_tagger(tagger, out_path, int8=False, attention="onnxruntime", opset=OPSET):
    """Export a loaded ``AudioTagger`` as one ONNX graph: waveform -> logits, scores.

    The one ONNX export of speechbrain-ast: ``speechbrain-ast export-onnx``
    and the onnxruntime backend of ``AudioTagger`` (``use_onnx``,
    ``quantize_int8``) call it. The graph is written to a temporary file
    beside ``out_path`` and renamed, so ``out_path`` is never half written.

    Arguments
    ---------
    tagger : AudioTagger
        A loaded model folder, not quantised (its PyTorch modules are
        exported, whatever backend it scores with).
    out_path : str
        The ``.onnx`` file to write (its folder is created).
    int8 : bool
        Quantise the encoder's and head's matrix-product weights to int8
        (onnxruntime dynamic quantisation; features stay float32).
    attention : str
        ``"onnxruntime"`` (one fused attention node per block, default) or
        ``"standard"`` (plain ONNX ops for other runtimes), see
        ``WaveformTagger``.
    opset : int
        ONNX opset (default ``OPSET``, 20).

    Returns
    -------
    str
        ``out_path``.

    Example
    -------
    >>> import onnx
    >>> from speechbrain_ast.tagging.tagger import AudioTagger
    >>> from tests.helpers import tiny_model_folder
    >>> tmpdir = getfixture("tmpdir")
    >>> tagger = AudioTagger.from_hparams(tiny_model_folder(tmpdir))
    >>> path = export_tagger(tagger, tmpdir.join("m.onnx").strpath)
    >>> [i.name for i in onnx.load(path).graph.input]
    ['waveform']
    """
    onnx = _require("onnx")
    if getattr(tagger, "int8", False):
        raise ValueError("export needs the fp32 PyTorch tagger, not an int8 one")
    model = WaveformTagger.from_tagger(tagger, attention).cpu()
    window = tagger.window_samples
    example = torch.zeros(2, window)
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    samples = torch.export.Dim("samples", min=model.features.window_size, max=1 << 26)
    out_path = os.fspath(out_path)
    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".onnx-export-") as work:
        fp32_path = os.path.join(work, "fp32.onnx")
        with torch.no_grad(), warnings.catch_warnings():
            # torch.export's own deprecation notices, not actionable here.
            warnings.simplefilter("ignore", FutureWarning)
            program = torch.onnx.export(
                model,
                (example,),
                input_names=["waveform"],
                output_names=["logits", "scores"],
                dynamic_shapes={"waveform": {0: batch, 1: samples}},
                opset_version=opset,
                dynamo=True,
                external_data=False,
                verbose=False,
                custom_translation_table={
                    torch.ops.speechbrain_ast.multi_head_attention.default: (
                        _multi_head_attention_onnx
                    )
                },
            )
        program.save(fp32_path, external_data=False)
        final = fp32_path
        if int8:
            final = os.path.join(work, "int8.onnx")
            quantize_graph(fp32_path, final)
        graph = onnx.load(final)
        meta = tagger_metadata(tagger, int8=int8, attention=attention)
        del graph.metadata_props[:]
        for key, value in meta.items():
            graph.metadata_props.add(key=key, value=value)
        graph.producer_name = "speechbrain-ast"
        staged = os.path.join(work, "final.onnx")
        onnx.save(graph, staged)
        os.replace(staged, out_path)
    return out_path


def quantize_graph(fp32_path, int8_path):
    """Dynamic int8 quantisation of the encoder's and head's matrix products.

    Products whose weight is a feature constant (DFT basis, mel banks) are
    left in float32: quantising them would change the features themselves.
    The metadata of an exported graph is kept, with ``int8`` set to true.

    Arguments
    ---------
    fp32_path : str
        Exported float32 graph.
    int8_path : str
        Where to write the quantised graph.

    Returns
    -------
    str
        ``int8_path``.
    """
    onnx = _require("onnx")
    quantization = _require("onnxruntime.quantization")
    source = onnx.load(fp32_path)
    graph = source.graph
    feature_constants = {
        init.name
        for init in graph.initializer
        if "dft_basis" in init.name or "mel_banks" in init.name
    }
    excluded = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and feature_constants.intersection(node.input)
    ]
    with _quiet_root_logger():  # its advice to pre-process does not apply here
        quantization.quantize_dynamic(
            fp32_path,
            int8_path,
            op_types_to_quantize=["MatMul", "Gemm"],
            nodes_to_exclude=excluded,
            weight_type=quantization.QuantType.QInt8,
            per_channel=False,
        )
    quantised = onnx.load(int8_path)
    del quantised.metadata_props[:]
    for prop in source.metadata_props:
        value = "true" if prop.key == "int8" else prop.value
        quantised.metadata_props.add(key=prop.key, value=value)
    quantised.producer_name = source.producer_name
    onnx.save(quantised, int8_path)
    return int8_path


@contextlib.contextmanager
def _quiet_root_logger():
    """Drop root-logger warnings (onnxruntime's quantiser logs through it)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _require(module):
    """Import an optional dependency with a message that says how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{module} is needed for ONNX export and the ONNX backend: "
            f"pip install 'speechbrain-ast[onnx]' ({error})"
        ) from None
