# Copyright (c) mmvitplug contributors.
"""Class-token self-attention of the last layer, per head, as in the DINO
paper (Caron et al. 2021, Fig. 1 / 3; the official
``visualize_attention.py``).

Usage::

    python tools/analysis/attention_map.py CONFIG CHECKPOINT IMAGE \
        --out attention.png [--size 224]

``CONFIG`` is any config whose model has a flat-trunk mmvitplug backbone
with a class token (DeiT, DeiT III, ...): a DINO pretraining config (the
EMA teacher's backbone is shown, the model's ``pretrained_backbone``), a
k-NN or classification config (``model.backbone``). ``CHECKPOINT`` is a
checkpoint of that model (or ``none``: the model as initialised). The
image is resized so that its short side is ``--size`` (default: unchanged)
and cropped to a multiple of the patch size, normalised with the model's
data preprocessor, and the attention of the class token to every patch in
the last trunk layer is drawn for each head (nearest upsampling to pixels)
next to the image, in one PNG.

The weights are those of the explicit attention path: the last layer's
attention module (an :class:`mmvitplug.layers.Attention`, with ``qkv``,
``num_heads`` and ``scale``) is given its input by a forward pre-hook and
``softmax(q k^T * scale)`` is recomputed from it, which is what both the
fused and the explicit path compute.
"""
import argparse
import os.path as osp
from typing import List, Optional, Tuple

import mmcv
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_checkpoint


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Last-layer class-token attention per head (DINO)')
    parser.add_argument('config', help='config of the model')
    parser.add_argument('checkpoint', help="checkpoint, or 'none'")
    parser.add_argument('image', help='image file')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument(
        '--size', type=int, default=None,
        help='resize the short side to this (default: keep the size)')
    return parser.parse_args(argv)


def build_backbone(cfg: Config, checkpoint: str) -> Tuple[nn.Module, dict]:
    """The backbone to show, with the checkpoint loaded, and the data
    preprocessor's config (mean, std, to_rgb)."""
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    if checkpoint.lower() != 'none':
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    prefix = getattr(type(model), 'pretrained_backbone', 'backbone')
    backbone = model.get_submodule(prefix)
    preprocessor = cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor', {})
    return backbone.eval(), dict(preprocessor)


def load_image(path: str, size: Optional[int], patch: int,
               preprocessor: dict) -> Tuple[np.ndarray, torch.Tensor]:
    """The RGB image as shown and its normalised tensor (1, 3, H, W) with H
    and W multiples of ``patch``."""
    img = mmcv.imread(path, channel_order='rgb')
    if size is not None:
        img = mmcv.imrescale(img, (size, 10**6), interpolation='bicubic')
    h, w = (img.shape[0] // patch) * patch, (img.shape[1] // patch) * patch
    if h == 0 or w == 0:
        raise ValueError(f'image {path} ({img.shape[1]}x{img.shape[0]}) is '
                         f'smaller than one patch ({patch} px)')
    img = img[:h, :w]
    x = torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1)
    if not preprocessor.get('to_rgb', preprocessor.get('bgr_to_rgb', False)):
        x = x.flip(0)  # the model expects BGR
    mean = torch.tensor(preprocessor.get('mean', [0., 0., 0.]))
    std = torch.tensor(preprocessor.get('std', [1., 1., 1.]))
    x = (x - mean[:, None, None]) / std[:, None, None]
    return img, x[None]


def last_attention_module(backbone: nn.Module) -> nn.Module:
    """The attention module of the backbone's last trunk layer."""
    layers = getattr(backbone, 'layers', None)
    if not layers:
        raise ValueError(f'{type(backbone).__name__} is not an mmvitplug '
                         'backbone with declared trunk layers')
    attn = getattr(layers[-1][-1], 'attn', None)
    if attn is None or not all(
            hasattr(attn, a) for a in ('qkv', 'num_heads', 'scale')):
        raise ValueError(
            f'the last layer of {type(backbone).__name__} has no '
            'multi-head self-attention with a qkv projection '
            '(mmvitplug.layers.Attention); attention maps need a flat ViT '
            'trunk with a class token such as DeiT')
    return attn


@torch.no_grad()
def class_token_attention(backbone: nn.Module,
                          x: torch.Tensor) -> torch.Tensor:
    """Attention of the class token to each patch in the last trunk layer.

    Args:
        backbone (nn.Module): An mmvitplug flat-trunk backbone with a class
            token first (``num_extra_tokens`` leading tokens).
        x (Tensor): One normalised image (1, 3, H, W).

    Returns:
        Tensor: (heads, H / patch, W / patch) attention weights.
    """
    attn = last_attention_module(backbone)
    captured = {}

    def hook(module, args, kwargs):
        captured['tokens'] = args[0] if args else kwargs['x']

    handle = attn.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        backbone(x)
    finally:
        handle.remove()
    tokens = captured['tokens']
    B, N, C = tokens.shape
    heads = attn.num_heads
    qkv = attn.qkv(tokens).reshape(B, N, 3, heads, C // heads)
    q, k, _ = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    weights = ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
    patch = backbone.patch_size
    patch = patch[0] if isinstance(patch, (tuple, list)) else patch
    h, w = x.shape[-2] // patch, x.shape[-1] // patch
    extra = getattr(backbone, 'num_extra_tokens', N - h * w)
    if extra < 1 or N - extra != h * w:
        raise ValueError(
            f'{type(backbone).__name__}: {N} tokens in the last layer are '
            f'not a class token and a {h}x{w} patch grid')
    return weights[0, :, 0, extra:].reshape(heads, h, w)


def save_figure(img: np.ndarray, maps: torch.Tensor, out: str) -> None:
    """The image, then one heat map per head, in one row."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    heads = maps.shape[0]
    scale = img.shape[0] // maps.shape[1]
    up = F.interpolate(maps[None], scale_factor=scale, mode='nearest')[0]
    fig, axes = plt.subplots(1, heads + 1, figsize=(2.2 * (heads + 1), 2.4))
    axes[0].imshow(img)
    axes[0].set_title('image')
    for i in range(heads):
        axes[i + 1].imshow(up[i].numpy(), cmap='inferno')
        axes[i + 1].set_title(f'head {i}')
    for ax in axes:
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> torch.Tensor:
    args = parse_args(argv)
    import mmvitplug  # noqa: F401  (registers the models)
    cfg = Config.fromfile(args.config)
    backbone, preprocessor = build_backbone(cfg, args.checkpoint)
    patch = backbone.patch_size
    patch = patch[0] if isinstance(patch, (tuple, list)) else patch
    img, x = load_image(args.image, args.size, patch, preprocessor)
    maps = class_token_attention(backbone, x)
    save_figure(img, maps, args.out)
    print(f'{maps.shape[0]} heads, {maps.shape[1]}x{maps.shape[2]} patches '
          f'-> {osp.abspath(args.out)}')
    return maps


if __name__ == '__main__':
    main()
