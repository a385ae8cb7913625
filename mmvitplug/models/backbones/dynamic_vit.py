# Copyright (c) mmvitplug contributors.
"""DynamicViT: a plain ViT backbone with dynamic token sparsification.

`Rao et al. 2021, "DynamicViT: Efficient Vision Transformers with Dynamic
Token Sparsification" <https://arxiv.org/abs/2106.02034>`_; official code:
raoyongming/DynamicViT (``models/dyvit.py``,
``VisionTransformerDiffPruning``).
"""
import functools
from typing import List, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmvitplug.layers import (Attention, Block, TokenKeepPredictor,
                              batch_index_select, block_forward_with_policy,
                              keep_ratios)
from mmvitplug.registry import MODELS
from .base import VisionBackbone, check_plain_vit, init_linear_norm


def _check_pruning_loc(pruning_loc, depth: int) -> List[int]:
    """Block indices (before which tokens are pruned) of ints, or of
    fractions of the depth."""
    if not isinstance(pruning_loc, (list, tuple)) or not pruning_loc:
        raise ValueError('pruning_loc must be a non-empty list of block '
                         'indices (ints) or of fractions of the depth '
                         f'(floats in (0, 1)), got {pruning_loc!r}')
    if all(isinstance(v, int) and not isinstance(v, bool)
           for v in pruning_loc):
        locs = list(pruning_loc)
    elif all(isinstance(v, float) and 0 < v < 1 for v in pruning_loc):
        locs = [round(v * depth) for v in pruning_loc]
    else:
        raise ValueError('pruning_loc must be all ints (block indices) or '
                         'all floats in (0, 1) (fractions of the depth), got '
                         f'{list(pruning_loc)!r}')
    if any(not 0 <= v < depth for v in locs) or any(
            b <= a for a, b in zip(locs, locs[1:])):
        raise ValueError(
            f'pruning_loc {list(pruning_loc)!r} gives the blocks {locs}: they '
            f'must be strictly increasing indices in [0, {depth - 1}] (the '
            f'backbone has {depth} blocks)')
    return locs


@MODELS.register_module()
class DynamicViT(BaseBackbone):
    """A plain ViT with DynamicViT's token pruning
    (`DynamicViT <https://arxiv.org/abs/2106.02034>`_).

    Wraps a plain ViT backbone (``vit``, built from ``backbone``) and runs
    its own patch / position embedding, blocks and final norm, with a
    :class:`~mmvitplug.layers.TokenKeepPredictor` before each block of
    ``pruning_loc`` (the official ``PredictorLG`` at blocks 3, 6, 9 of
    DeiT-S / B). Before block ``l``'s location the predictor scores the
    patch tokens (the class / distillation tokens are always kept) from
    their features and the mean of the tokens still kept, and

    * in **training** samples a hard keep decision with the Gumbel-softmax
      (straight-through), multiplied by the previous one (a dropped token
      stays dropped): ``D_l = gumbel_softmax(score, hard=True)[keep] *
      D_{l-1}``. Tokens are *masked*, not removed: every later block runs
      its attention with :func:`~mmvitplug.layers.softmax_with_policy`
      (dropped keys get no weight, every token keeps its self-loop, float32)
      so that the predictors learn through the attention weights. Each
      decision (B, N) passes through the parameter-free recording point
      ``keep_decisions[l]`` (an ``nn.Identity``), where the distiller's
      recorders read it (``backbone.keep_decisions.{l}``: the ratio loss and
      the token distillation's mask);
    * in **inference** keeps the ``max(1, int(N * rho_l))`` best-scored
      patch tokens and gathers them
      (:func:`~mmvitplug.layers.batch_index_select`): later blocks really
      run on fewer tokens (the FLOP and throughput gain).

    The keep ratios are ``rho_l = keep_ratio ** (l + 1)`` (the official
    ``[rho, rho^2, rho^3]``), of the number ``N`` of patch tokens of the
    *input* (any grid: the official code hard-codes 14 x 14). Blocks before
    the first location run as in the plain backbone (the official
    code runs them through ``softmax_with_policy`` with a policy of ones,
    which differs from the softmax by the ``eps`` terms only).

    The plain ViT is supported generically when it is an mmvitplug
    :class:`~mmvitplug.models.backbones.VisionBackbone` with a flat trunk of
    :class:`~mmvitplug.layers.Block` s with
    :class:`~mmvitplug.layers.Attention` from the first pruning location
    on (one block per stage, the base ``forward_stage``), an int
    ``num_extra_tokens`` (the tokens in front of the patches that
    ``embed`` returns) and ``out_type='cls_token'`` on the last block only:
    the DeiT family (``mmvitplug.DeiT`` with the ``deit-*`` and ``deit3-*``
    archs, ``distilled`` or not). Other backbones (CaiT's talking heads and
    class attention, ConViT's gated attention and late class token, PiT's
    pooling stages, ...) raise an error naming what they lack.

    Design: a wrapper rather than a subclass per family, so that one class
    prunes every plain ViT through its public contract (``embed``, the
    blocks, ``format_output``) and the plain backbone keeps its own
    arguments, checks and checkpoints; the predictors are its only
    parameters. The training decisions leave through recording points
    rather than extra outputs, so that the head sees what the plain
    backbone gives and the losses read the decisions by module path, like
    any other recorded feature (the distillation machinery of
    :class:`mmvitplug.DistillationClassifier`, see
    ``configs/dynamic_vit``).

    Parameters are ``vit.*`` (the plain backbone's names below ``vit.``) and
    ``predictors.*``. ``load_state_dict`` also accepts the plain backbone's
    keys (``patch_embed.*``, ``blocks.*``: a plain DeiT checkpoint, e.g.
    the teacher's, whose ``backbone.*`` keys map to ``backbone.vit.*``); the
    predictors are then left as they are (missing keys). To initialise
    from a checkpoint, give the plain backbone its ``Pretrained``
    ``init_cfg``; the predictors get a truncated normal (std 0.02) and unit
    LayerNorms, as officially.

    Args:
        backbone (dict | VisionBackbone): The plain ViT, e.g.
            ``dict(type='mmvitplug.DeiT', arch='deit-small')``.
        pruning_loc (Sequence[int] | Sequence[float]): Indices of the blocks
            before which tokens are pruned (the official ``pruning_loc``),
            strictly increasing, or fractions of the depth in (0, 1),
            rounded to the nearest block. Defaults to (0.25, 0.5, 0.75):
            blocks 3, 6, 9 of 12 (DeiT), 1, 2, 3 of 4.
        keep_ratio (float | Sequence[float]): ``rho`` in (0, 1] (the
            official ``base_rate``): the fraction kept at location ``l`` is
            ``rho ** (l + 1)``; or the non-increasing fractions themselves.
            Defaults to 0.7.
    """

    def __init__(self,
                 backbone: Union[dict, VisionBackbone],
                 pruning_loc: Sequence[Union[int, float]] = (0.25, 0.5, 0.75),
                 keep_ratio: Union[float, Sequence[float]] = 0.7):
        super().__init__(init_cfg=None)
        vit = MODELS.build(backbone) if isinstance(backbone, dict) \
            else backbone
        self._check_backbone(vit)
        depth = vit.num_stages
        self.pruning_loc = _check_pruning_loc(pruning_loc, depth)
        self.keep_ratios = keep_ratios(keep_ratio, len(self.pruning_loc))
        self._check_blocks(vit, self.pruning_loc[0])
        self.vit = vit
        self.num_extra_tokens = vit.num_extra_tokens
        dims = vit.layers[-1][0].norm1.normalized_shape[0]
        self.embed_dims = dims
        self.predictors = nn.ModuleList(
            [TokenKeepPredictor(dims) for _ in self.pruning_loc])
        # parameter-free recording points of the training decisions
        self.keep_decisions = nn.ModuleList(
            [nn.Identity() for _ in self.pruning_loc])
        self._register_load_state_dict_pre_hook(self._plain_keys)

    # ------------------------------------------------------------ checks
    @staticmethod
    def _check_backbone(vit) -> None:
        check_plain_vit(vit, 'DynamicViT')
        if vit.out_type != 'cls_token' or \
                vit.out_indices != (vit.num_stages - 1, ):
            raise ValueError(
                "DynamicViT outputs the class token of the last block: give "
                "the backbone out_type='cls_token' and out_indices=-1, got "
                f'out_type={vit.out_type!r}, out_indices='
                f'{list(vit.out_indices)}')

    @staticmethod
    def _check_blocks(vit, first: int) -> None:
        for i, (block, ) in enumerate(vit.layers):
            if i >= first and not (isinstance(block, Block)
                                   and isinstance(block.attn, Attention)):
                raise ValueError(
                    'DynamicViT runs the blocks from the first pruning '
                    'location on with a keep policy: they must be '
                    'mmvitplug.layers.Block with mmvitplug.layers.Attention; '
                    f'block {i} of {type(vit).__name__} is a '
                    f'{type(block).__name__} with '
                    f'{type(getattr(block, "attn", None)).__name__}')

    def _plain_keys(self, state_dict, prefix, *args) -> None:
        """Map a plain backbone's keys ``{prefix}blocks.0...`` to
        ``{prefix}vit.blocks.0...``."""
        own = tuple(f'{prefix}{name}.' for name, _ in self.named_children())
        for key in list(state_dict):
            if key.startswith(prefix) and not key.startswith(own):
                state_dict[prefix + 'vit.' + key[len(prefix):]] = \
                    state_dict.pop(key)

    def train(self, mode: bool = True):
        """Set the mode (training: masking, eval: gathering); returns
        ``self``."""
        super().train(mode)
        return self

    def init_weights(self):
        """The plain backbone's initialisation (its ``init_cfg``), the
        predictors' truncated normal (std 0.02) and unit LayerNorms."""
        super().init_weights()
        self.predictors.apply(init_linear_norm)

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Two depths, for the official ``lr_scale``: the predictors are the
        top depth (1), every other parameter (the ViT, and a classifier's
        head or anything else outside this backbone) depth 0.

        With :class:`mmvitplug.LayerDecayOptimWrapperConstructor` and
        ``layer_decay_rate=lr_scale`` (0.01), the predictors train at the
        base lr and the rest at ``lr_scale`` x it, as the official
        ``optim_factory.get_parameter_groups`` groups them (only parameters
        named ``*predictor*`` get the full lr).

        Args:
            param_name (str): Parameter name.
            prefix (str): Prefix of this backbone's parameters in
                ``param_name``. Defaults to ''.

        Returns:
            tuple[int, int]: The depth and the number of depths (2).
        """
        return int(param_name.startswith(prefix + 'predictors.')), 2

    # ------------------------------------------------------------ forward
    def num_kept(self, num_patches: int) -> List[int]:
        """The patch tokens kept at each location at inference:
        ``max(1, int(N * rho_l))``."""
        return [max(1, int(num_patches * r)) for r in self.keep_ratios]

    def forward(self, x: torch.Tensor) -> tuple:
        """Class token(s) of the last block, as the plain backbone gives
        them (tokens masked in training, gathered at inference).

        Args:
            x (Tensor): Images (B, C, H, W).

        Returns:
            tuple: The plain backbone's output.
        """
        vit = self.vit
        x, context = vit.embed(x)
        B, E = x.size(0), self.num_extra_tokens
        N = x.size(1) - E
        num_kept = self.num_kept(N)
        prev = x.new_ones(B, N)
        policy = None
        for i, (block, ) in enumerate(vit.layers):
            if i in self.pruning_loc:
                loc = self.pruning_loc.index(i)
                log_probs = self.predictors[loc](x[:, E:], prev)
                if self.training:
                    keep = F.gumbel_softmax(log_probs, hard=True)[..., 0]
                    prev = self.keep_decisions[loc](keep * prev)
                    policy = torch.cat([prev.new_ones(B, E), prev], dim=1)
                else:
                    kept = log_probs[..., 0].topk(num_kept[loc], dim=1)[1]
                    index = torch.cat([
                        torch.arange(E, device=x.device).expand(B, E),
                        kept + E
                    ], dim=1)
                    x = batch_index_select(x, index)
                    prev = batch_index_select(prev, kept)
            if policy is None:
                x = vit.run_layer(block, x)
            else:
                x = vit.run_layer(
                    functools.partial(block_forward_with_policy, block), x,
                    policy)
        return (vit.format_output(x, vit.num_stages - 1, context), )
