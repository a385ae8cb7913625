# Copyright (c) mmvitplug contributors.
"""Export the architecture an SPViT search chose as a plain model
(`SPViT <https://arxiv.org/abs/2111.11802>`_; the official fine-tuning
set-up: ``assigned_indicators`` + ``searching_model``, ``prune_ffn`` and
``post_training_optimize_checkpoint.py``).

Usage::

    python tools/model_converters/spvit_export.py SEARCH_CONFIG \
        SEARCH_CHECKPOINT FINETUNE_CONFIG [--out-dir DIR]

From the searched classifier (an ``mmvitplug.SPViTSupernet`` backbone) it
reads the chosen architecture (the eval gates: per block MSA / 3 x 3 conv /
1 x 1 conv / skip, the kept FFN units), and writes to ``DIR`` (default:
the checkpoint's folder):

- ``spvit_exported.pth``: ``{'state_dict': {'backbone.*': ..., 'head.*':
  ...}, 'meta': {'spvit_arch': ...}}``, the weights of the plain
  ``mmvitplug.SPViT`` classifier (convolutions derived from the attention
  weights, pruned FFNs), checked to compute what the supernet computes in
  eval mode (the largest output difference on random images is printed);
- ``<FINETUNE_CONFIG's name>``: the fine-tuning config with the searched
  ``msa_choices`` / ``ffn_hidden`` and ``load_from`` the exported weights.

It prints the architecture and its GFLOPs by the official formula against
the search's target (the config's ``mmvitplug.SPViTFLOPsLoss``).
"""
import argparse
import copy
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export the architecture of an SPViT search')
    parser.add_argument('search_config', help='the search config')
    parser.add_argument('checkpoint', help='the search checkpoint (.pth)')
    parser.add_argument('finetune_config', help='the fine-tuning config')
    parser.add_argument(
        '--out-dir', help="output folder (default: the checkpoint's)")
    return parser.parse_args(argv)


def _no_init(cfg: dict) -> dict:
    """A model config without ``init_cfg`` s (the weights come from the
    checkpoint)."""
    if isinstance(cfg, dict):
        return {k: _no_init(v) for k, v in cfg.items() if k != 'init_cfg'}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_no_init(v) for v in cfg)
    return cfg


def _flops_loss(cfg: Config):
    """The search config's ``SPViTFLOPsLoss`` config, or None."""
    losses = cfg.model.get('distiller', {}).get('losses', {})
    for loss in losses.values():
        if loss.get('type') == 'mmvitplug.SPViTFLOPsLoss':
            return loss
    return None


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    from mmpretrain.registry import MODELS

    import mmvitplug  # noqa: F401  (registers the models)
    from mmvitplug.models.losses import arch_gates, spvit_flops
    search_cfg = Config.fromfile(args.search_config)
    model_cfg = _no_init(search_cfg.model.to_dict())
    if model_cfg['backbone']['type'] != 'mmvitplug.SPViTSupernet':
        raise SystemExit(f'{args.search_config}: the backbone is a '
                         f"{model_cfg['backbone']['type']}, not an "
                         'mmvitplug.SPViTSupernet')
    model = MODELS.build(model_cfg)
    checkpoint = torch.load(
        args.checkpoint, map_location='cpu', weights_only=False)
    state = checkpoint.get('state_dict', checkpoint)
    model.load_state_dict(state, strict=False)
    model.eval()
    supernet = model.backbone
    arch = supernet.export_arch()
    exported = {
        f'backbone.{k}': v
        for k, v in supernet.export_state_dict().items()
    }
    exported.update({k: v for k, v in model.state_dict().items()
                     if k.startswith(('head.', 'neck.'))})

    ft_cfg = Config.fromfile(args.finetune_config)
    ft_cfg.model.backbone.msa_choices = arch['msa_choices']
    ft_cfg.model.backbone.ffn_hidden = arch['ffn_hidden']
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    weights = osp.join(out_dir, 'spvit_exported.pth')
    ft_cfg.load_from = weights

    # the exported classifier computes what the supernet computes
    plain = MODELS.build(_no_init(ft_cfg.model.to_dict()))
    plain.load_state_dict(exported, strict=True)
    plain.eval()
    size = supernet.vit.patch_embed.img_size
    torch.manual_seed(0)
    x = torch.randn(4, 3, *size)
    with torch.no_grad():
        diff = (plain(x, mode='tensor') - model(x, mode='tensor')).abs()
    torch.save({'state_dict': exported, 'meta': {'spvit_arch': arch}},
               weights)
    ft_path = osp.join(out_dir, osp.basename(args.finetune_config))
    ft_cfg.dump(ft_path)

    vit = supernet.vit
    loss = _flops_loss(search_cfg)
    hidden = [b.mlp.fc1.out_features for b in supernet.blocks]
    msa, ffn = arch_gates(arch['msa_choices'], arch['ffn_hidden'],
                          max(hidden))
    grid = vit.patch_embed.grid_size
    geometry = dict(
        embed_dims=vit.embed_dims, num_heads=supernet.blocks[0].attn.num_heads,
        num_patches=grid[0] * grid[1],
        num_extra_tokens=vit.num_extra_tokens,
        in_channels=vit.patch_embed.proj.in_channels,
        patch_size=vit.patch_embed.patch_size[0],
        num_classes=getattr(model.head, 'num_classes', 0))
    if loss is not None:
        geometry = {k: loss.get(k, v) for k, v in geometry.items()}
    full = spvit_flops(
        torch.ones(len(hidden), 3), torch.ones(len(hidden), max(hidden)),
        **geometry)[0].item() / 1e9
    searched = spvit_flops(msa, ffn, **geometry)[0].item() / 1e9
    target = loss['target_gflops'] if loss is not None else None
    print('SPViT searched architecture:')
    for i, (c, h) in enumerate(zip(arch['msa_choices'],
                                   arch['ffn_hidden'])):
        print(f'  block {i}: {c:<8} FFN {h}/{hidden[i]}')
    verdict = '' if target is None else ': ' + (
        'met' if searched <= target else 'NOT met') + \
        f' ({100 * (searched / target - 1):+.2f} % of the target)'
    print(f'GFLOPs (official formula): {searched:.6f} searched '
          f'({searched / full:.3f}x), {full:.6f} unpruned, target '
          f'{target}{verdict}')
    print(f'exported vs supernet (eval), max |logit difference|: '
          f'{diff.max().item():.3g}')
    print(f'wrote {weights}\nwrote {ft_path}')
    return dict(arch=copy.deepcopy(arch), gflops=searched, full=full,
                target=target, max_diff=diff.max().item(), weights=weights,
                config=ft_path)


if __name__ == '__main__':
    main()
