# Copyright (c) mmvitplug contributors.
"""DynamicViT: a plain ViT backbone with dynamic token sparsification.

`Rao et al. 2021, "DynamicViT: Efficient Vision Transformers with Dynamic
Token Sparsification" <https://arxiv.org/abs/2106.02034>`_; official code:
raoyongming/DynamicViT (``models/dyvit.py``,
``VisionTransformerDiffPruning``).
"""
from typing import List, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmvitplug.layers import (Attention, TokenKeepPredictor,
                              batch_index_select, keep_ratios, keep_tokens)
from mmvitplug.registry import MODELS
from .base import (VisionBackbone, check_extra_tokens, check_plain_vit,
                   init_linear_norm)


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
    patch tokens (the tokens in front of them are always kept) from
    their features and the mean of the tokens still kept, and

    * in **training** samples a hard keep decision with the Gumbel-softmax
      (straight-through), multiplied by the previous one (a dropped token
      stays dropped): ``D_l = gumbel_softmax(score, hard=True)[keep] *
      D_{l-1}``. Tokens are *masked*, not removed: every later block (and
      the top: CaiT's class attention, CCT's sequence pooling) runs inside
      :func:`~mmvitplug.layers.keep_tokens` with this policy, so its
      attention goes through :func:`~mmvitplug.layers.softmax_with_policy`
      (dropped keys get no weight, every token keeps its self-loop, float32)
      and the predictors learn through the attention weights. Each
      decision (B, N) passes through the parameter-free recording point
      ``keep_decisions[l]`` (an ``nn.Identity``), where the distiller's
      recorders read it (``backbone.keep_decisions.{l}``: the ratio loss and
      the token distillation's mask);
    * in **inference** keeps the ``max(1, int(N * rho_l))`` best-scored
      patch tokens and gathers them
      (:func:`~mmvitplug.layers.batch_index_select`): later blocks really
      run on fewer tokens (the FLOP and throughput gain), inside
      :func:`~mmvitplug.layers.keep_tokens` with the kept positions (which
      ConViT's positional attention reads).

    The keep ratios are ``rho_l = keep_ratio ** (l + 1)`` (the official
    ``[rho, rho^2, rho^3]``), of the number ``N`` of patch tokens of the
    *input* (any grid: the official code hard-codes 14 x 14). Blocks before
    the first location run as in the plain backbone (the official
    code runs them through ``softmax_with_policy`` with a policy of ones,
    which differs from the softmax by the ``eps`` terms only).

    The plain ViT is any mmvitplug
    :class:`~mmvitplug.models.backbones.VisionBackbone` with a flat trunk
    (one block per stage) whose family declares its ``out_type`` in
    ``prunable_out_types`` (every attention from the first block on honours
    the keep state, nothing after the stem needs the full patch grid), with
    an int ``num_extra_tokens`` (tokens in front of the patches out of
    ``embed``; tokens that join later, in front, are counted as they come)
    and ``out_indices=-1``:

    * DeiT, DeiT III, distilled or not (``cls_token``);
    * CaiT (``cls_token``: talking-heads self-attention, then the class
      token joins in the class-attention top, which sees the kept patches);
    * ConViT (``cls_token``: gated positional self-attention over the kept
      patches at their grid positions; the class token joins before block
      ``local_up_to_layer``);
    * CCT (``seq_pool``: sequence pooling over the kept tokens).

    The others raise an error saying why (XCiT's and DHVT's convolutions
    over the full patch grid, ResMLP's token-mixing linear layer, Arch-Net's
    token BatchNorm, PiT's and the pyramids' stages, ...).

    Design: a wrapper rather than a subclass per family, so that one class
    prunes every plain ViT through its public contract (``embed``,
    ``forward_stage``, ``format_output``) and the plain backbone keeps its
    own arguments, checks and checkpoints; the predictors are its only
    parameters. The keep state is a context the attention layers read
    (:func:`~mmvitplug.layers.keep_tokens`), not an argument threaded
    through each family's blocks. The training decisions leave through
    recording points
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
            blocks 3, 6, 9 of 12 (DeiT), 6, 12, 18 of CaiT-XXS24's 24
            self-attention blocks, 1, 2, 3 of 4.
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
        self.vit = vit
        self.num_extra_tokens = vit.num_extra_tokens
        dims = vit.embed_dims
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
        check_plain_vit(vit, 'DynamicViT', own_stage_loop=True,
                        min_extra_tokens=None)
        name = type(vit).__name__
        if not vit.prunable_out_types:
            why = vit.token_pruning_note or 'its family does not declare ' \
                'prunable_out_types (attention that honours keep_tokens)'
            raise ValueError(f'DynamicViT cannot prune the tokens of {name}: '
                             f'{why}')
        check_extra_tokens(vit, 'DynamicViT', 0)
        if vit.out_type not in vit.prunable_out_types or \
                vit.out_indices != (vit.num_stages - 1, ):
            raise ValueError(
                'DynamicViT outputs the last block as one of '
                f'{list(vit.prunable_out_types)} (the prunable out_types of '
                f'{name}): give the backbone one of them and out_indices=-1, '
                f'got out_type={vit.out_type!r}, out_indices='
                f'{list(vit.out_indices)}')
        for module in vit.modules():
            if isinstance(module, Attention) and \
                    module.attend_op is not None:
                raise ValueError(
                    'DynamicViT masks the attention weights in training; an '
                    f'attention of {name} runs its own attend_op '
                    f'({type(module.attend_op).__name__}), which would ignore '
                    'the keep policy')

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
        """The plain backbone's output of the last block (tokens masked in
        training, gathered at inference).

        Args:
            x (Tensor): Images (B, C, H, W).

        Returns:
            tuple: The plain backbone's output.
        """
        vit = self.vit
        x, context = vit.embed(x)
        B = x.size(0)
        N = x.size(1) - self.num_extra_tokens  # patch tokens of the input
        num_kept = self.num_kept(N)
        prev = x.new_ones(B, N)  # keep decisions (training)
        kept = None  # indices of the patch tokens present (inference)
        keep = None  # the keep state from the first location on
        for i in range(vit.num_stages):
            if i in self.pruning_loc:
                loc = self.pruning_loc.index(i)
                # tokens in front of the patches (a class token may join)
                E = x.size(1) - (N if kept is None else kept.size(1))
                log_probs = self.predictors[loc](x[:, E:], prev)
                if self.training:
                    decision = F.gumbel_softmax(log_probs, hard=True)[..., 0]
                    prev = self.keep_decisions[loc](decision * prev)
                    keep = dict(policy=prev)
                else:
                    top = log_probs[..., 0].topk(num_kept[loc], dim=1)[1]
                    index = torch.cat([
                        torch.arange(E, device=x.device).expand(B, E),
                        top + E
                    ], dim=1)
                    x = batch_index_select(x, index)
                    prev = batch_index_select(prev, top)
                    kept = top if kept is None else \
                        batch_index_select(kept, top)
                    keep = dict(kept=kept, num_patches=N)
            if keep is None:
                x, context = vit.forward_stage(i, x, context)
            else:
                with keep_tokens(**keep):
                    x, context = vit.forward_stage(i, x, context)
        last = vit.num_stages - 1
        if keep is None:
            return (vit.format_output(x, last, context), )
        with keep_tokens(**keep):
            return (vit.format_output(x, last, context), )
