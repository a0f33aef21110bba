"""Parameters and forward GFLOPs at 512² of the paper-size networks, against the papers' figures.

FLOPs are counted by torch.utils.flop_counter.FlopCounterMode (one multiply-add =
2 FLOPs; convolutions, matmuls and attention only). Papers often report
multiply-accumulates as "FLOPs", so MACs (= FLOPs / 2) are printed too; the fusion
paper's 1065 G for 78.5 M parameters matches 2-FLOP-per-MAC counting here.
The baseline in the same run is HI-Net's plain-FPN ablation (no TDA, no shortcut).

Run:  .venv/bin/python benchmarks/model_size.py
"""

from __future__ import annotations

import warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

from napari_histoseg.models.registry import create_model

SIDE = 512
# Fusion paper, Table VI: parameters (M) and FLOPs (G) of the proposal and of its H&E branch.
PAPER = {"edge_fusion": (78.50, 1064.96), "edge_fusion H&E branch": (35.31, 452.58)}


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def forward_flops(model: torch.nn.Module, inputs: dict) -> int:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(**inputs)
    return counter.get_total_flops()


def measurements() -> list[tuple[str, int, int]]:
    """(name, parameters, forward FLOPs) for each network and sub-network measured."""
    tile = torch.randn(1, 3, SIDE, SIDE)
    box = torch.tensor([[SIDE // 4, SIDE // 4, SIDE // 2, SIDE // 2]])  # a 128² key region at 10x
    rows = []
    for name, config in [("hinet plain FPN (baseline)", dict(tda=False, shortcut=False)),
                         ("hinet +TDA", dict(shortcut=False)), ("hinet +shortcut", dict(tda=False)),
                         ("hinet", {})]:
        model = create_model("hinet", size="paper", **config).eval()
        rows.append((name, count_parameters(model), forward_flops(model, {"he": tile})))
    fusion = create_model("edge_fusion", size="paper").eval()
    he_branch = sum(count_parameters(m) for m in (fusion.target, fusion.detail, fusion.detail_fusion))
    he_inputs = {"he": tile, "detail": tile, "box": box}
    rows.append(("edge_fusion H&E branch", he_branch, forward_flops(fusion, he_inputs)))
    rows.append(("edge_fusion", count_parameters(fusion),
                 forward_flops(fusion, {**he_inputs, "ck56": tile})))
    return rows


def main() -> None:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No CK5/6 input")  # the H&E-only row, on purpose
        rows = measurements()
    baseline_params, baseline_flops = rows[0][1], rows[0][2]
    print(f"Paper-size networks, forward pass on 1x3x{SIDE}x{SIDE} "
          "(fusion: with a 40x key region and CK5/6)")
    print(f"{'network':<28}{'params M':>10}{'GFLOPs':>9}{'GMACs':>8}{'params/base':>13}"
          f"{'FLOPs/base':>12}  paper (params M, 'FLOPs' G)")
    for name, params, flops in rows:
        paper = PAPER.get(name)
        note = ""
        if paper:
            note = (f"  {paper[0]:.2f} M ({params / 1e6 / paper[0] - 1:+.1%}), "
                    f"{paper[1]:.1f} G ({flops / 1e9 / paper[1] - 1:+.1%})")
        print(f"{name:<28}{params / 1e6:>10.2f}{flops / 1e9:>9.1f}{flops / 2e9:>8.1f}"
              f"{params / baseline_params:>13.2f}{flops / baseline_flops:>12.2f}{note}")
    print("\nNotes: the fusion paper does not give layer widths. Here every VGG-UNet is VGG-16-BN "
          "(widths 64-512) with a decoder of (256, 128, 64, 32); the CK5/6 branch has two such "
          "encoders (RGB and grayscale) and two decoders. The fusion network's FLOPs depend on the "
          "key-region size only through DetailFusion's crop; the detail branch always runs on a "
          f"{SIDE}² 40x read. The H&E branch row counts the target and detail VGG-UNets and their "
          "fusion; its FLOPs are the H&E-only forward (no CK5/6).")


if __name__ == "__main__":
    main()
