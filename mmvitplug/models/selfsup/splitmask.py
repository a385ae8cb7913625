# Copyright (c) mmvitplug contributors.
"""SplitMask: split the patches, inpaint each half from the other, match.

`El-Nouby et al. 2021, "Are large-scale datasets necessary for
self-supervised pre-training?" <https://arxiv.org/abs/2112.10740>`_. No
official code was released; this is built from the paper's description
(abstract, method section as summarised by public reviews), see
:class:`SplitMask` for what is from the paper and what is inferred.
"""
import math
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS
from ..backbones.base import VisionBackbone
from ..heads.splitmask_head import TARGET_KINDS
from ..losses.utils import call_loss


def split_patches(batch_size: int, num_patches: int, ratio: float,
                  device: Union[str, torch.device] = 'cpu'):
    """A uniformly random partition of each image's patches in two subsets.

    Each image draws its own permutation of ``range(num_patches)``; its
    first ``round(ratio * num_patches)`` entries form subset A, the rest
    subset B. Indices are sorted (row-major grid order).

    Args:
        batch_size (int): Number of images.
        num_patches (int): Patches per image.
        ratio (float): Fraction of the patches in A, in (0, 1).
        device (str | torch.device): Device of the outputs.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``index_a`` (B, n_a), ``index_b``
        (B, N - n_a) and ``in_a`` (B, N) bool, True for the patches of A.
    """
    n_a = round(ratio * num_patches)
    if not 1 <= n_a <= num_patches - 1:
        raise ValueError(
            f'split_ratio={ratio} puts {n_a} of the {num_patches} patches in '
            'subset A; both subsets need at least one patch')
    perm = torch.rand(batch_size, num_patches, device=device).argsort(dim=1)
    index_a = perm[:, :n_a].sort(dim=1).values
    index_b = perm[:, n_a:].sort(dim=1).values
    in_a = torch.zeros(
        batch_size, num_patches, dtype=torch.bool, device=device)
    in_a.scatter_(1, index_a, True)
    return index_a, index_b, in_a


def check_subset_backbone(backbone: nn.Module):
    """Raise a clear error unless ``backbone`` can encode a subset of its
    patch tokens: a :class:`VisionBackbone` whose stages only run their
    layers (a flat trunk: no pooling, no pyramid) and which formats
    ``'raw'`` tokens. Token-set behaviour (attention, no grid mixing) is
    checked on the first batch (:meth:`SplitMask.check_subset_encoding`).
    """
    name = type(backbone).__name__
    hint = ('SplitMask encodes a random subset of the patch tokens, which '
            'needs a flat token trunk whose layers treat the tokens as a '
            'set, positions given by the embedding (DeiT, CaiT, CCT, ...)')
    if not isinstance(backbone, VisionBackbone):
        raise TypeError(f'{hint}; {name} is not an mmvitplug backbone (the '
                        'contract: embed / layers / run_layer / '
                        'format_output)')
    if type(backbone).forward_stage is not VisionBackbone.forward_stage:
        raise TypeError(
            f'{hint}; {name} overrides forward_stage (its stages pool, '
            'downsample or mix tokens on the grid: a pyramid or grid-aware '
            'family), so it cannot encode a token subset')
    if 'raw' not in backbone.out_types:
        raise TypeError(f"{hint}; {name} has no 'raw' out_type (tokens)")


def encode_subset(backbone: VisionBackbone, tokens: torch.Tensor,
                  grid: Tuple[int, int], index: torch.Tensor) -> torch.Tensor:
    """Encode the patch tokens at ``index`` (and the extra tokens).

    Args:
        backbone (VisionBackbone): A flat-trunk backbone.
        tokens (torch.Tensor): Its ``embed`` output (B, E + h * w, C): the
            ``E`` extra tokens (class, distillation) then the patches,
            position embedding added.
        grid (tuple[int, int]): The patch grid (h, w).
        index (torch.Tensor): (B, n) patch indices to keep.

    Returns:
        torch.Tensor: The encoded patch tokens (B, n, C) after the whole
        trunk and the final norm (the backbone's ``'raw'`` output without
        its extra tokens).
    """
    extra = tokens.shape[1] - math.prod(grid)
    patches = tokens[:, extra:]
    subset = patches.gather(
        1, index.unsqueeze(-1).expand(-1, -1, patches.shape[-1]))
    x = torch.cat([tokens[:, :extra], subset], dim=1)
    context = grid
    for i in range(backbone.num_stages):
        x, context = backbone.forward_stage(i, x, context)
    out = backbone.format_as(x, backbone.num_stages - 1, context, 'raw')
    return out[:, -index.shape[1]:]


@MODELS.register_module()
class SplitMask(BaseSelfSupervisor):
    """SplitMask pre-training (`El-Nouby et al. 2021
    <https://arxiv.org/abs/2112.10740>`_) of any flat-trunk plugin ViT.

    Each step, every image's patches are split at random into two disjoint
    subsets A and B (:func:`split_patches`); the SAME encoder (the backbone)
    encodes each subset alone (:func:`encode_subset`: the image is embedded
    once, with its position embedding, and the tokens of a subset plus the
    extra tokens run through the trunk); the shallow decoder
    (:class:`~mmvitplug.models.heads.SplitMaskHead`) inpaints the whole grid
    from each encoding, and :class:`~mmvitplug.models.losses.SplitMaskLoss`
    scores A's predictions of B's patches and B's predictions of A's (the
    targets come from ``target_generator``) plus InfoNCE between the two
    branches' average-pooled decoder outputs across the batch.

    From the paper: split / inpaint / match; disjoint subsets encoded
    independently by a shared ViT encoder; shallow (about 2 layers) decoder;
    both inpainting directions; global descriptors = average-pooled decoder
    outputs; InfoNCE (CPC) with in-batch negatives. Different from the
    paper: the target (the paper's BEiT DALL-E tokens cannot be downloaded:
    :class:`~mmvitplug.models.heads.SplitMaskPixelTarget` (MAE-style
    normalised pixels) or :class:`~mmvitplug.models.heads.SplitMaskHOGTarget`
    (MaskFeat's HOG); a tokenizer plugs in as a ``'classification'``
    target). Inferred: a uniform random split (not BEiT's block-wise mask),
    the 50/50 ratio, and the loss details listed in
    :class:`~mmvitplug.models.losses.SplitMaskLoss`.

    The backbone must encode a token subset: an mmvitplug backbone whose
    stages only run their layers and whose layers treat the tokens as a set
    (DeiT, DeiT III, CaiT, CCT); pyramids and families that mix tokens on
    the grid (PiT, CvT, LeViT, CMT, XCiT, ConViT, PatchConvNet, ResMLP) get
    a clear error, at construction or on the first batch. Parts of a
    backbone that only serve its pooled output (CaiT's class-attention
    blocks and class token, CCT's sequence pooling) get no gradient: under
    DDP train those with ``model_wrapper_cfg=dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)``.

    Args:
        backbone (dict): Backbone config (any ``out_type``: the trunk's
            tokens are read during pre-training, ``out_type`` is what
            ``extract_feat`` and an exported backbone give).
        head (dict): Decoder config; ``in_channels`` defaults to the
            backbone's ``embed_dims`` and ``out_channels`` to the target's.
        target_generator (dict): Target config, e.g.
            ``dict(type='mmvitplug.SplitMaskPixelTarget', patch_size=16)``.
        loss (dict): Loss config. Defaults to
            ``dict(type='mmvitplug.SplitMaskLoss')``.
        split_ratio (float): Fraction of the patches in subset A.
            Defaults to 0.5 (inferred).
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """
    #: State-dict prefix of the pre-trained backbone, for
    #: ``tools/model_converters/export_backbone.py``.
    pretrained_backbone = 'backbone'

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 target_generator: dict,
                 loss: dict = dict(type='mmvitplug.SplitMaskLoss'),
                 split_ratio: float = 0.5,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not 0. < split_ratio < 1.:
            raise ValueError(
                f'split_ratio must be in (0, 1), got {split_ratio!r}')
        if not isinstance(backbone, nn.Module):
            backbone = MMPRETRAIN_MODELS.build(backbone)
        check_subset_backbone(backbone)
        if not isinstance(target_generator, nn.Module):
            target_generator = MMPRETRAIN_MODELS.build(target_generator)
        kind = getattr(target_generator, 'kind', None)
        channels = getattr(target_generator, 'out_channels', None)
        if kind not in TARGET_KINDS or not isinstance(channels, int):
            raise TypeError(
                f'target_generator {type(target_generator).__name__} must '
                f'have kind in {list(TARGET_KINDS)} and an int out_channels '
                f'(see mmvitplug.models.heads.splitmask_head); got kind '
                f'{kind!r}, out_channels {channels!r}')
        if not isinstance(head, nn.Module):
            head = dict(head)
            if head.setdefault('out_channels', channels) != channels:
                raise ValueError(
                    f"head out_channels={head['out_channels']} but the "
                    f'target gives {channels} values per patch; leave it '
                    'unset')
            if 'in_channels' not in head:
                if not hasattr(backbone, 'embed_dims'):
                    raise ValueError(
                        f'{type(backbone).__name__} has no embed_dims: set '
                        'the head in_channels to its token width')
                head['in_channels'] = backbone.embed_dims
            head = MMPRETRAIN_MODELS.build(head)
        super().__init__(
            backbone=backbone,
            head=head,
            target_generator=target_generator,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.loss_module = MMPRETRAIN_MODELS.build(loss)
        self.split_ratio = split_ratio
        self._subset_checked = False

    @torch.no_grad()
    def check_subset_encoding(self, image: torch.Tensor):
        """Check, once, that the backbone encodes a token subset as a set.

        In eval mode, the embedded tokens of one image are checked to be
        (B, extra + h * w, C) tokens with an (h, w) grid context, and a
        random half of its patches is encoded in two orders: the outputs
        must be the same tokens permuted alike (attention and token-wise
        layers; a layer mixing tokens on the grid or by a fixed-size linear
        map fails or breaks this).

        Args:
            image (torch.Tensor): One image (1, C, H, W).
        """
        backbone = self.backbone
        name = type(backbone).__name__
        was_training = backbone.training
        backbone.eval()
        try:
            tokens, grid = backbone.embed(image)
            ok = (isinstance(tokens, torch.Tensor) and tokens.dim() == 3
                  and isinstance(grid, tuple) and len(grid) == 2
                  and all(isinstance(g, int) for g in grid)
                  and tokens.shape[1] >= math.prod(grid))
            if not ok:
                raise TypeError(
                    f'{name}.embed must give (B, extra + h * w, C) tokens '
                    'and the (h, w) patch grid to encode a token subset; got '
                    f'{type(tokens).__name__} '
                    f'{tuple(getattr(tokens, "shape", ()))} and {grid!r}')
            N = math.prod(grid)
            index, _, _ = split_patches(1, N, self.split_ratio,
                                        tokens.device)
            perm = torch.randperm(index.shape[1], device=tokens.device)
            try:
                out = encode_subset(backbone, tokens, grid, index)
                out_perm = encode_subset(backbone, tokens, grid,
                                         index[:, perm])
            except Exception as err:
                raise TypeError(
                    f'{name} cannot encode a subset of its patch tokens '
                    f'({type(err).__name__}: {err}); SplitMask needs a flat '
                    'trunk whose layers treat the tokens as a set (DeiT, '
                    'CaiT, CCT, ...)') from err
            scale = out.abs().max().clamp(min=1.)
            if not torch.allclose(out[:, perm], out_perm, rtol=0,
                                  atol=1e-4 * float(scale)):
                raise TypeError(
                    f'{name} mixes tokens by their order (on the grid or by '
                    'a fixed-size token map): permuting a subset of its '
                    'patch tokens changes their encodings, so it cannot '
                    'encode a token subset for SplitMask; use a flat '
                    'attention trunk (DeiT, CaiT, CCT, ...)')
        finally:
            backbone.train(was_training)
        self._subset_checked = True

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: Optional[List[DataSample]] = None) -> dict:
        """Split, encode each subset, inpaint both ways, match.

        Args:
            inputs (torch.Tensor | list[torch.Tensor]): Images (B, C, H, W)
                (a one-view list as the SelfSupDataPreprocessor gives).
            data_samples (list[DataSample], optional): Unused.

        Returns:
            dict[str, Tensor]: ``loss_rec``, ``loss_nce`` and, logged
            only, ``nce_acc`` (fraction of images whose A descriptor is
            closest to its own B descriptor) and ``desc_std`` (mean per-
            dimension std of the L2-normalised descriptors; ~0 = collapse).
        """
        images = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        if not self._subset_checked:
            self.check_subset_encoding(images[:1])
        tokens, grid = self.backbone.embed(images)
        B = images.shape[0]
        index_a, index_b, in_a = split_patches(B, math.prod(grid),
                                               self.split_ratio,
                                               images.device)
        pred_a, dec_a = self.head(
            encode_subset(self.backbone, tokens, grid, index_a), index_a,
            grid)
        pred_b, dec_b = self.head(
            encode_subset(self.backbone, tokens, grid, index_b), index_b,
            grid)
        desc_a, desc_b = dec_a.mean(dim=1), dec_b.mean(dim=1)
        target = self.target_generator(images, grid)
        losses = call_loss(
            'loss', self.loss_module,
            dict(
                pred_a=pred_a,
                pred_b=pred_b,
                target=target,
                in_a=in_a,
                desc_a=desc_a,
                desc_b=desc_b))
        with torch.no_grad():
            za = nn.functional.normalize(desc_a.float(), dim=-1)
            zb = nn.functional.normalize(desc_b.float(), dim=-1)
            hits = (za @ zb.t()).argmax(dim=1) == torch.arange(
                B, device=za.device)
            losses['nce_acc'] = hits.float().mean()
            losses['desc_std'] = torch.cat([za, zb]).std(dim=0).mean()
        return losses
