# Copyright (c) mmvitplug contributors.
"""SPViT: a plain ViT whose attention layers may become convolutions.

`He et al. 2021, "Pruning Self-attentions into Convolutional Layers in
Single Path" <https://arxiv.org/abs/2111.11802>`_; official code:
zhuang-group/SPViT (``SPViT_DeiT/models_pruning.py``,
``SPVisionTransformer``, ``UnifiedAttention``, ``UnifiedMlp``;
``post_training_optimize_checkpoint.py``).

Two wrappers of the same plain ViT: :class:`SPViTSupernet`, searched (every
attention a :class:`~mmvitplug.layers.SPViTAttention`, every FFN a
:class:`~mmvitplug.layers.GatedMlp`), and :class:`SPViT`, the chosen
architecture as a plain model (attention, a convolution or nothing in each
block, FFNs of the kept hidden units), which
:meth:`SPViTSupernet.export_arch` and :meth:`SPViTSupernet.export_state_dict`
give (``tools/model_converters/spvit_export.py``).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmvitplug.layers import (Attention, Block, ConvAttention, GatedMlp, Mlp,
                              SPViTAttention, check_msa_choices)
from mmvitplug.registry import MODELS
from .base import VisionBackbone, check_plain_vit


def _block_forward(block: nn.Module, x: torch.Tensor, hw: Tuple[int, int],
                   num_extra: int) -> torch.Tensor:
    """A :class:`~mmvitplug.layers.Block` whose attention may be an SPViT
    one (given the patch grid) or None (the branch skipped)."""
    if block.attn is not None:
        y = block.norm1(x)
        if isinstance(block.attn, (SPViTAttention, ConvAttention)):
            y = block.attn(y, hw, num_extra)
        else:
            y = block.attn(y)
        x = x + block.drop_path1(block.ls1(y))
    return x + block.drop_path2(block.ls2(block.mlp(block.norm2(x))))


class _SPViTBase(BaseBackbone):
    """Checks and forward shared by :class:`SPViTSupernet` and
    :class:`SPViT`: the wrapped ViT ``vit``, its blocks run with the patch
    grid, ``format_output`` of the last block."""

    def __init__(self, backbone: Union[dict, VisionBackbone]):
        super().__init__(init_cfg=None)
        vit = MODELS.build(backbone) if isinstance(backbone, dict) \
            else backbone
        self._check_backbone(vit)
        self.vit = vit
        self.num_extra_tokens = vit.num_extra_tokens

    def _check_backbone(self, vit) -> None:
        name = type(vit).__name__
        what = type(self).__name__
        check_plain_vit(vit, what)
        if vit.out_indices != (vit.num_stages - 1, ):
            raise ValueError(
                f'{what} outputs the last block only: give the backbone '
                f'out_indices=-1, got {list(vit.out_indices)}')
        for i, (block, ) in enumerate(vit.layers):
            if not (isinstance(block, Block)
                    and isinstance(block.attn, Attention)
                    and isinstance(block.mlp, Mlp)):
                raise ValueError(
                    f'{what} needs mmvitplug.layers.Block s with '
                    'mmvitplug.layers.Attention and Mlp; block '
                    f'{i} of {name} is a {type(block).__name__} with '
                    f'{type(getattr(block, "attn", None)).__name__}')

    def train(self, mode: bool = True):
        """Set the mode (training: sampled gates, eval: thresholded);
        returns ``self`` (mmpretrain's ``BaseBackbone.train`` returns
        None)."""
        super().train(mode)
        return self

    @property
    def blocks(self) -> List[nn.Module]:
        """The blocks of the wrapped ViT, in order."""
        return [block for (block, ) in self.vit.layers]

    def forward(self, x: torch.Tensor) -> tuple:
        """The wrapped ViT's output (its ``out_type``) of the last block.

        Args:
            x (Tensor): Images (B, C, H, W).

        Returns:
            tuple: The plain backbone's output.
        """
        vit = self.vit
        x, hw = vit.embed(x)
        for block in self.blocks:
            x = vit.run_layer(_block_forward, block, x, hw,
                              self.num_extra_tokens)
        self._record()
        return (vit.format_output(x, vit.num_stages - 1, hw), )

    def _record(self) -> None:
        """Hook for the supernet's recording points."""


@MODELS.register_module()
class SPViTSupernet(_SPViTBase):
    r"""The SPViT search space over a plain ViT
    (`SPViT <https://arxiv.org/abs/2111.11802>`_, official
    ``SPVisionTransformer`` in search mode).

    Every block's attention becomes a
    :class:`~mmvitplug.layers.SPViTAttention` (multi-head attention /
    3 x 3 conv / 1 x 1 conv / skip, the convolutions derived from the
    attention's own value and output projections, chosen by three
    cumulative straight-through Bernoulli gates) and every FFN a
    :class:`~mmvitplug.layers.GatedMlp` (one gate per hidden unit). The
    plain weights are shared, not copied, and keep their names, so a plain
    DeiT checkpoint (its ``Pretrained`` ``init_cfg``) loads into the
    supernet; the new parameters are ``*.bn_1x1.*``, ``*.bn_3x3.*``,
    ``*.head_probs`` and the gate thresholds ``*.kernel_thresholds`` /
    ``*.mlp.thresholds`` (trained at their own lr, official ``arc_lr``: give
    them an ``lr_mult`` with ``paramwise_cfg.custom_keys['thresholds']``).

    Every forward pass sends the indicators the complexity loss counts
    through two parameter-free recording points (``nn.Identity``), where
    the distiller's recorders read them: ``backbone.msa_gates`` (L, 3)
    (cumulated: 1 x 1 conv, 3 x 3 conv, attention) and
    ``backbone.ffn_gates`` (L, hidden); see
    :class:`mmvitplug.models.losses.SPViTFLOPsLoss`.

    Supported: the plain ViTs with a flat trunk of
    :class:`~mmvitplug.layers.Block` s with
    :class:`~mmvitplug.layers.Attention` and :class:`~mmvitplug.layers.Mlp`
    and class token(s) in front of the patches: the DeiT family
    (``mmvitplug.DeiT``, distilled or not).

    Args:
        backbone (dict | VisionBackbone): The plain ViT, e.g.
            ``dict(type='mmvitplug.DeiT', arch='deit-tiny')``.
        theta (float): Initial gate thresholds (official 1.5).
            Defaults to 1.5.
        alpha (float): Temperature of the head mixing of the derived
            convolutions (official 1e-2). Defaults to 1e-2.
    """

    def __init__(self,
                 backbone: Union[dict, VisionBackbone],
                 theta: float = 1.5,
                 alpha: float = 1e-2):
        super().__init__(backbone)
        if isinstance(theta, bool) or not isinstance(theta, (int, float)):
            raise TypeError(f'theta must be a number, got {theta!r}')
        for block in self.blocks:
            block.attn = SPViTAttention.from_attention(
                block.attn, theta=theta, alpha=alpha)
            block.mlp = GatedMlp.from_mlp(block.mlp, theta=theta)
        self.msa_gates = nn.Identity()
        self.ffn_gates = nn.Identity()

    def _record(self) -> None:
        self.msa_gates(torch.stack([b.attn.indicators()
                                    for b in self.blocks]))
        self.ffn_gates(torch.stack([b.mlp.indicators()
                                    for b in self.blocks]))

    def export_arch(self) -> Dict[str, list]:
        """The architecture the search chose (the eval gates): ``dict(
        msa_choices=[...], ffn_hidden=[...])``, the arguments of
        :class:`SPViT`."""
        return dict(
            msa_choices=[b.attn.choice() for b in self.blocks],
            ffn_hidden=[int(b.mlp.kept().numel()) for b in self.blocks])

    @torch.no_grad()
    def export_state_dict(self) -> Dict[str, torch.Tensor]:
        """The weights of :class:`SPViT` with :meth:`export_arch` (keys as
        its ``state_dict``): a chosen convolution's weights derived from
        the attention's (:func:`~mmvitplug.layers.derive_conv`, official
        ``post_training_optimize_checkpoint.py``) with its BatchNorm; the
        kept FFN units' rows of ``fc1`` and columns of ``fc2`` (official
        ``prune_ffn``); a skipped attention's weights dropped. In eval mode
        the exported model computes what the supernet computes."""
        state = {k: v.detach().clone() for k, v in self.state_dict().items()
                 if k.split('.')[-1] not in ('kernel_thresholds',
                                             'thresholds', 'head_probs')
                 and '.attn.' not in k}
        for i, block in enumerate(self.blocks):
            pre = f'vit.blocks.{i}.'
            attn, choice = block.attn, block.attn.choice()
            if choice == 'skip':
                for key in list(state):
                    if key.startswith(pre + 'norm1.'):
                        del state[key]
            elif choice == 'msa':
                for name in ('qkv', 'proj'):
                    for key, v in getattr(attn, name).state_dict().items():
                        state[f'{pre}attn.{name}.{key}'] = v.clone()
            else:
                size = 3 if choice == 'conv3x3' else 1
                w, b, p = attn.derived_conv(size)
                state[pre + 'attn.conv.weight'] = w.clone()
                state[pre + 'attn.conv.bias'] = b.clone()
                state[pre + 'attn.proj.weight'] = p.clone()
                state[pre + 'attn.proj.bias'] = attn.proj.bias.clone()
                bn = attn.bn_3x3 if size == 3 else attn.bn_1x1
                for key, v in bn.state_dict().items():
                    state[f'{pre}attn.bn.{key}'] = v.clone()
            kept = block.mlp.kept()
            state[pre + 'mlp.fc1.weight'] = block.mlp.fc1.weight[kept].clone()
            state[pre + 'mlp.fc1.bias'] = block.mlp.fc1.bias[kept].clone()
            state[pre + 'mlp.fc2.weight'] = \
                block.mlp.fc2.weight[:, kept].clone()
        return state


@MODELS.register_module()
class SPViT(_SPViTBase):
    """A plain ViT with the architecture an SPViT search chose
    (`SPViT <https://arxiv.org/abs/2111.11802>`_; official fine-tuning
    model with ``assigned_indicators``, after
    ``post_training_optimize_checkpoint.py``): in each block the attention
    (``'msa'``, unchanged), a convolution (``'conv3x3'`` / ``'conv1x1'``:
    a :class:`~mmvitplug.layers.ConvAttention`, C -> head dims -> C) or
    nothing (``'skip'``: the attention branch and its norm removed), and an
    FFN of ``ffn_hidden[i]`` hidden units. Nothing is searched any more: it
    trains and runs as any plain backbone, with the FLOPs and the speed of
    the chosen architecture. Its weights come from
    :meth:`SPViTSupernet.export_state_dict`
    (``tools/model_converters/spvit_export.py`` writes them with the
    fine-tuning config).

    A skipped attention is a removed branch, as in the search (all gates
    closed: zero output); the official fine-tuning code instead passes the
    *normalised* tokens on (``x = x`` after ``norm1``), which the search
    never saw.

    Args:
        backbone (dict | VisionBackbone): The plain ViT, as for
            :class:`SPViTSupernet`.
        msa_choices (Sequence[str]): One of ``'skip'``, ``'conv1x1'``,
            ``'conv3x3'``, ``'msa'`` per block.
        ffn_hidden (Sequence[int], optional): Hidden units of each block's
            FFN, in [0, the plain FFN's]. Defaults to None (unchanged).
    """

    def __init__(self,
                 backbone: Union[dict, VisionBackbone],
                 msa_choices: Sequence[str],
                 ffn_hidden: Optional[Sequence[int]] = None):
        super().__init__(backbone)
        blocks = self.blocks
        self.msa_choices = check_msa_choices(msa_choices, len(blocks))
        hidden = [b.mlp.fc1.out_features for b in blocks]
        if ffn_hidden is None:
            ffn_hidden = hidden
        if not isinstance(ffn_hidden, (list, tuple)) or \
                len(ffn_hidden) != len(blocks) or any(
                    isinstance(h, bool) or not isinstance(h, int)
                    or not 0 <= h <= m for h, m in zip(ffn_hidden, hidden)):
            raise ValueError(
                f'ffn_hidden must be a list of {len(blocks)} ints (one per '
                f'block), each in [0, the plain FFN\'s {hidden[0]}], got '
                f'{ffn_hidden!r}')
        self.ffn_hidden = tuple(ffn_hidden)
        for block, choice, h in zip(blocks, self.msa_choices,
                                    self.ffn_hidden):
            attn = block.attn
            if choice == 'skip':
                block.attn = None
                block.norm1 = None
            elif choice != 'msa':
                block.attn = ConvAttention(
                    attn.proj.in_features, attn.head_dim,
                    3 if choice == 'conv3x3' else 1)
            if h != block.mlp.fc1.out_features:
                mlp = block.mlp
                block.mlp = Mlp(mlp.fc1.in_features, max(h, 1),
                                drop=mlp.drop.p, act_layer=type(mlp.act))
                if h == 0:  # every unit pruned: the output is fc2's bias
                    block.mlp.fc1 = nn.Linear(mlp.fc1.in_features, 0)
                    block.mlp.fc2 = nn.Linear(0, mlp.fc2.out_features)
