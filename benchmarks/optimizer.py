"""Adam step: the default implementation against ``foreach=True`` and ``fused=True``.

Milliseconds per step on the parameters of our encoder (the largest of
``--sizes``) with the recipes' betas and weight decay, and the peak memory
each variant allocates.
"""

import gc

import torch

from benchmarks.measure import interleaved
from benchmarks.peers import SIZES, make_adam
from benchmarks.report import fmt_bytes
from speechbrain_ast.model import AudioSpectrogramTransformer


def run(bench):
    args = bench.args
    size = args.sizes[-1]
    dim, depth, heads = SIZES[size]
    bench.log(f"[optimizer] Adam on {size} parameters")
    torch.manual_seed(0)
    encoder = AudioSpectrogramTransformer(
        n_frames=128, embed_dim=dim, depth=depth, num_heads=heads
    ).to(bench.device)
    base = [p.detach() for p in encoder.parameters()]
    n_params = sum(p.numel() for p in base)
    variants = {
        "default": {},
        "foreach=True": {"foreach": True},
        "fused=True": {"fused": True},
    }
    fns = {}
    for name, kwargs in variants.items():
        params = [torch.nn.Parameter(p.clone()) for p in base]
        for p in params:
            p.grad = torch.randn_like(p) * 1e-3
        try:
            opt = make_adam(params, **kwargs)
            opt.step()
        except (RuntimeError, ValueError) as error:
            bench.results["notes"].append(f"Adam {name}: {error}")
            continue
        fns[name] = opt.step
    res = interleaved(
        fns,
        bench.device,
        max(args.repeats, 3),
        args.warmup,
        memory=not args.no_memory,
    )
    for name, row in res.items():
        bench.results["optimizer"].append(
            {
                "size": size,
                "params_m": n_params / 1e6,
                "variant": name,
                "step_ms": 1000 * row["s"],
                "peak_bytes": row.get("peak_bytes"),
            }
        )
    del encoder, base, fns
    gc.collect()


def render(bench):
    """Markdown lines: the Adam step variants."""
    res, lines = bench.results, []
    if res["optimizer"]:
        r0 = res["optimizer"][0]
        lines += [
            f"**Adam step** (AST-{r0['size']} encoder, {r0['params_m']:.1f} M "
            "parameters)",
            "",
            "| variant | ms per step | peak memory growth |",
            "|---|---|---|",
        ]
        lines += [
            f"| {r['variant']} | {r['step_ms']:.1f} | {fmt_bytes(r['peak_bytes'])} |"
            for r in res["optimizer"]
        ]
        lines.append("")
    return lines


def targets(results):
    """No target: the Adam variants are informative."""
    return []
