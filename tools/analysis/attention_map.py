# Copyright (c) mmvitplug contributors.
"""Class-token self-attention of the last layer, per head, as in the DINO
paper (Caron et al. 2021, Fig. 1 / 3; the official
``visualize_attention.py``).

Usage::

    python tools/analysis/attention_map.py CONFIG CHECKPOINT IMAGE \
        --out attention.png [--size 224] [--divisor 16]

``CONFIG`` is any config whose model has an mmvitplug backbone with a
class token (DeiT, DeiT III, CaiT, PatchConvNet, ConViT, PiT, CvT, XCiT,
...): a DINO pretraining config (the EMA teacher's backbone is shown, the
model's ``pretrained_backbone``), a k-NN or classification config
(``model.backbone``). ``CHECKPOINT`` is a checkpoint of that model (or
``none``: the model as initialised). The image is resized so that its
short side is ``--size`` (default: unchanged) and cropped to a multiple of
the patch size (``--divisor``), normalised with the model's data
preprocessor, and the attention of the class token to every patch in the
last attention layer is drawn for each head (nearest upsampling to
pixels) next to the image, in one PNG.

The weights are those the last attention layer multiplies its values
with, recorded by :func:`mmvitplug.layers.record_attention` (which runs
the explicit path, the same function as the fused one): any backbone whose
attention goes through the shared layers is drawn, with no per-backbone
code. For CaiT, PatchConvNet and XCiT that is the class-attention stage.
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

from mmvitplug.utils.export import pretrained_backbone_of


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
    parser.add_argument(
        '--divisor', type=int, default=None,
        help='crop the image to a multiple of this (default: the '
        "backbone's patch size; a pyramid such as PiT needs its total "
        'stride, e.g. 32)')
    return parser.parse_args(argv)


def build_backbone(cfg: Config,
                   checkpoint: str) -> Tuple[nn.Module, nn.Module]:
    """The backbone to show, with the checkpoint loaded, and the model's
    data preprocessor (the channel order and normalisation of training)."""
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.copy()
    if model_cfg.get('data_preprocessor') is None:  # as the Runner does
        model_cfg['data_preprocessor'] = cfg.get('data_preprocessor')
    model = MODELS.build(model_cfg)
    if checkpoint.lower() != 'none':
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    prefix = pretrained_backbone_of(type(model))
    backbone = model.get_submodule(prefix)
    return backbone.eval(), model.data_preprocessor.eval()


def load_image(path: str, size: Optional[int], patch: int,
               preprocessor: nn.Module) -> Tuple[np.ndarray, torch.Tensor]:
    """The RGB image as shown and the model's input (1, 3, H, W), H and W
    multiples of ``patch``: the BGR image ``LoadImageFromFile`` gives,
    through the model's data preprocessor."""
    img = mmcv.imread(path, channel_order='rgb')
    if size is not None:
        img = mmcv.imrescale(img, (size, 10**6), interpolation='bicubic')
    h, w = (img.shape[0] // patch) * patch, (img.shape[1] // patch) * patch
    if h == 0 or w == 0:
        raise ValueError(f'image {path} ({img.shape[1]}x{img.shape[0]}) is '
                         f'smaller than one patch ({patch} px)')
    img = img[:h, :w]
    bgr = torch.from_numpy(np.ascontiguousarray(img[..., ::-1]))
    with torch.no_grad():
        x = preprocessor(
            dict(inputs=bgr.permute(2, 0, 1)[None], data_samples=None), False)
    return img, x['inputs']


def _grid(num_patches: int, height: int,
          width: int) -> Optional[Tuple[int, int]]:
    """The (h, w) token grid of ``num_patches`` tokens over an image of
    ``height`` x ``width`` pixels with one integer stride, or None."""
    for stride in range(1, max(height, width) + 1):
        h, w = height // stride, width // stride
        if h * w == num_patches and h * stride == height \
                and w * stride == width:
            return h, w
        if h * w < num_patches:
            return None
    return None


@torch.no_grad()
def class_token_attention(backbone: nn.Module,
                          x: torch.Tensor) -> torch.Tensor:
    """Attention of the class token to each patch in the backbone's last
    attention layer.

    The forward pass runs inside :func:`mmvitplug.layers.record_attention`,
    so any backbone whose attention goes through the shared attention
    layers is supported (DeiT, DeiT III, CaiT and PatchConvNet's class
    attention, ConViT, PiT, CvT, XCiT's class attention, ...). The last
    recorded attention must have a class token first: its keys are one or
    two leading tokens (class, distillation) and a patch grid of the
    image's aspect ratio (any stride: a pyramid's last stage too).

    Args:
        backbone (nn.Module): A backbone in eval mode.
        x (Tensor): One normalised image (1, 3, H, W).

    Returns:
        Tensor: (heads, h, w) attention weights of the class token (query
        0) on the last layer's patch grid.

    Raises:
        ValueError: The backbone computes no recorded attention, or its
            last attention has no class token before a patch grid.
    """
    from mmvitplug.layers import record_attention
    with record_attention() as recorded:
        backbone(x)
    name = type(backbone).__name__
    if not recorded:
        raise ValueError(
            f'{name} computes no token attention through mmvitplug.layers '
            '(record_attention recorded nothing); attention maps need a '
            'ViT with a class token such as DeiT')
    weights = recorded[-1]
    heads, num_keys = weights.shape[1], weights.shape[-1]
    H, W = x.shape[-2:]
    for extra in (1, 2):  # class token (+ distillation token)
        grid = _grid(num_keys - extra, H, W)
        if grid is not None:
            return weights[0, :, 0, extra:].reshape(heads, *grid)
    raise ValueError(
        f'the last attention of {name} attends over {num_keys} tokens, '
        f'which are not a class token (and a distillation token) before a '
        f'patch grid of the {W}x{H} image: attention maps need a ViT with '
        'a class token such as DeiT')


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
    divisor = args.divisor
    if divisor is None:
        divisor = backbone.patch_size
        divisor = divisor[0] if isinstance(divisor, (tuple, list)) \
            else divisor
    img, x = load_image(args.image, args.size, divisor, preprocessor)
    maps = class_token_attention(backbone, x)
    save_figure(img, maps, args.out)
    print(f'{maps.shape[0]} heads, {maps.shape[1]}x{maps.shape[2]} patches '
          f'-> {osp.abspath(args.out)}')
    return maps


if __name__ == '__main__':
    main()
