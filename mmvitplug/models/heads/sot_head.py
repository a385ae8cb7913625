# Copyright (c) mmvitplug contributors.
"""SoT's classification head: class token + word tokens (MGCrP)."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead
from mmpretrain.structures import DataSample

from mmvitplug.layers import SVPN, cross_covariance
from mmvitplug.registry import MODELS


class _Scale(nn.Module):
    """``factor * x``; the factor learnable or fixed (official
    ``scaleNorm``)."""

    def __init__(self, factor: float, learnable: bool):
        super().__init__()
        if learnable:
            self.factor = nn.Parameter(torch.tensor(factor))
        else:
            self.register_buffer('factor', torch.tensor(factor),
                                 persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * x


class _EPN(nn.Module):
    """``sign(x) sqrt(|x| + eps)``, L2-normalised over dim 1 (official
    ``ePN``)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.sign(x) * torch.sqrt(torch.abs(x) + self.eps)
        return nn.functional.normalize(x, dim=1)


class MGCrP(nn.Module):
    """Multi-headed global cross-covariance pooling of SoT.

    ``Linear(dim -> 2 * num_heads * wr_dim)`` gives per head ``Q`` and
    ``K`` (N, wr_dim); the head's representation is the normalised
    cross-covariance ``norm(Q^T K / N)`` (wr_dim, wr_dim) (``Q`` and ``K``
    centred by their scalar means, :func:`mmvitplug.layers.cross_covariance`),
    flattened over the heads: ``num_heads * wr_dim ** 2`` features. Official
    ``MultiHeadPooling``; parameter names follow it (``wr``, ``norm``).

    Args:
        dim (int): Token dimension.
        num_heads (int): Heads. Defaults to 6.
        wr_dim (int): Columns of ``Q`` and ``K`` per head. Defaults to 14.
        qkv_bias (bool): Bias of ``wr``. Defaults to False.
        normalization (dict, optional): ``type`` 'svPN' (other keys: those of
            :class:`mmvitplug.layers.SVPN` but ``dim``), 'sqrt_d'
            (x wr_dim^-0.5), 'sqrt_t' (x a learnable factor from
            wr_dim^-0.5), 'ePN', 'LN' (LayerNorm over the last dim), or None
            (no normalisation). The dict is copied, never changed.
    """
    norm_types = ('svPN', 'sqrt_d', 'sqrt_t', 'ePN', 'LN', None)

    def __init__(self,
                 dim: int,
                 num_heads: int = 6,
                 wr_dim: int = 14,
                 qkv_bias: bool = False,
                 normalization: Optional[dict] = dict(type='svPN')):
        super().__init__()
        for name, value in (('num_heads', num_heads), ('wr_dim', wr_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name}={value!r} must be an int >= 1')
        self.num_heads = num_heads
        self.wr_dim = wr_dim
        self.wr = nn.Linear(dim, wr_dim * num_heads * 2, bias=qkv_bias)
        # the official code pops 'type' from the caller's dict: copy it
        cfg = copy.deepcopy(normalization) if normalization else dict(
            type=None)
        norm_type = cfg.pop('type', None)
        if norm_type not in self.norm_types:
            raise ValueError(f'normalization type {norm_type!r}: choose '
                             f'from {list(self.norm_types)}')
        if norm_type != 'svPN' and cfg:
            raise ValueError(f'normalization {norm_type!r} takes no '
                             f'arguments; got {sorted(cfg)}')
        if norm_type == 'svPN':
            self.norm = SVPN(wr_dim, **cfg)
        elif norm_type == 'sqrt_d':
            self.norm = _Scale(wr_dim**-0.5, learnable=False)
        elif norm_type == 'sqrt_t':
            self.norm = _Scale(wr_dim**-0.5, learnable=True)
        elif norm_type == 'ePN':
            self.norm = _EPN()
        elif norm_type == 'LN':
            self.norm = nn.LayerNorm(wr_dim)
        else:
            self.norm = nn.Identity()
        self.norm_type = norm_type
        self.output_dim = num_heads * wr_dim**2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (B, N, dim) -> (B, num_heads * wr_dim ** 2)."""
        B, N, _ = x.shape
        qk = self.wr(x).reshape(B, N, 2, self.num_heads,
                                self.wr_dim).permute(2, 0, 3, 1, 4)
        q = qk[0].reshape(B * self.num_heads, N, self.wr_dim)
        k = qk[1].reshape(B * self.num_heads, N, self.wr_dim)
        return self.norm(cross_covariance(q, k)).reshape(B, -1)


@MODELS.register_module()
class SoTClsHead(ClsHead):
    """Classification head of `SoT <https://arxiv.org/abs/2104.10935>`_.

    Takes a backbone's raw tokens (B, num_extra_tokens + N, C) (a plugin ViT
    with ``out_type='raw'``): the class token is token 0, the word tokens
    are the N after the extra tokens. The word tokens are pooled by
    :class:`MGCrP` (svPN-normalised multi-head cross-covariances), dropped
    out with ``dropout`` (the official ``regular``) and classified by
    ``visual_fc``; the class token by ``cls_fc``. ``fusion_type`` (the
    official ``Classifier``):

    - 'sum_fc' (default): logits ``cls_fc(cls) + visual_fc(MGCrP(words))``;
    - 'sum_loss': the same logits at test time, but trained with one loss
      per branch, ``loss_cls`` on ``cls_fc(cls)`` and ``loss_vis`` on
      ``visual_fc(MGCrP(words))`` (official ``--loss_add``);
    - 'concat': ``visual_fc(concat(cls, MGCrP(words)))``;
    - 'aggre_all': ``visual_fc(MGCrP(all tokens))``, extra tokens included;
      the only choice without a class token (``num_extra_tokens=0``, the
      official ``OnlyVisualTokensClassifier``).

    'concat' and 'aggre_all' build no ``cls_fc`` (the official one is built
    but unused).

    Parameter names are the official classifier's (``representation``,
    ``visual_fc``, ``cls_fc``), so its state dict loads as is.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Token dimension C.
        num_extra_tokens (int): Tokens before the word tokens (DeiT 1,
            distilled DeiT 2, a backbone whose raw output is patches only 0).
            Defaults to 1.
        num_heads (int): MGCrP heads. Defaults to 6.
        wr_dim (int): MGCrP columns per head. Defaults to 14 (SoT-Tiny).
        qkv_bias (bool): Bias of MGCrP's projection. Defaults to False.
        normalization (dict, optional): MGCrP normalisation, see
            :class:`MGCrP`. Defaults to svPN with alpha 0.5, one power
            iteration, one singular value and a learnable start vector.
        dropout (float): Dropout on the MGCrP features (official
            ``regular``: 0 for Tiny, 0.5 Small, 0.7 Base). Defaults to 0.
        fusion_type (str): See above. Defaults to 'sum_fc'.
        loss (dict): Classification loss. Defaults to cross-entropy.
        init_cfg (dict, optional): Defaults to truncated normal (std 0.02)
            linear weights and zero biases, the official init.
    """
    fusion_types = ('sum_fc', 'sum_loss', 'concat', 'aggre_all')

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 num_extra_tokens: int = 1,
                 num_heads: int = 6,
                 wr_dim: int = 14,
                 qkv_bias: bool = False,
                 normalization: Optional[dict] = dict(
                     type='svPN',
                     alpha=0.5,
                     iter_num=1,
                     sv_num=1,
                     init_weight='learn'),
                 dropout: float = 0.,
                 fusion_type: str = 'sum_fc',
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = dict(
                     type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                 **kwargs):
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(
                f'num_classes={num_classes!r} must be a positive integer')
        if fusion_type not in self.fusion_types:
            raise ValueError(f'fusion_type={fusion_type!r}: choose from '
                             f'{list(self.fusion_types)}')
        if not isinstance(num_extra_tokens, int) or num_extra_tokens < 0:
            raise ValueError(f'num_extra_tokens={num_extra_tokens!r} must '
                             'be an int >= 0')
        if num_extra_tokens == 0 and fusion_type != 'aggre_all':
            raise ValueError(
                f"fusion_type={fusion_type!r} needs a class token; with "
                "num_extra_tokens=0 use fusion_type='aggre_all'")
        if not 0 <= dropout < 1:
            raise ValueError(f'dropout={dropout!r} must be in [0, 1)')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.num_extra_tokens = num_extra_tokens
        self.fusion_type = fusion_type
        self.representation = MGCrP(in_channels, num_heads, wr_dim, qkv_bias,
                                    normalization)
        self.dropout = nn.Dropout(dropout)
        vis_dim = self.representation.output_dim
        if fusion_type == 'concat':
            vis_dim += in_channels
        self.visual_fc = nn.Linear(vis_dim, num_classes)
        # 'concat' and 'aggre_all' do not use the official cls_fc
        self.cls_fc = (None if fusion_type in ('concat', 'aggre_all') else
                       nn.Linear(in_channels, num_classes))

    def pre_logits(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """The raw tokens (B, num_extra_tokens + N, C) of the last
        output."""
        tokens = feats[-1]
        if not (isinstance(tokens, torch.Tensor) and tokens.dim() == 3
                and tokens.shape[2] == self.in_channels
                and tokens.shape[1] > self.num_extra_tokens):
            got = (tuple(tokens.shape) if isinstance(tokens, torch.Tensor)
                   else type(tokens).__name__)
            raise TypeError(
                'SoTClsHead needs raw tokens (B, num_extra_tokens + N, '
                f'{self.in_channels}) with num_extra_tokens='
                f"{self.num_extra_tokens} from a backbone with out_type='raw'"
                f'; got {got}')
        return tokens

    def forward_branches(
        self, feats: Sequence[torch.Tensor]
    ) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
        """``(cls_fc(cls), visual-branch logits)``; the first is None for
        'aggre_all', and the second holds the class token for 'concat'."""
        tokens = self.pre_logits(feats)
        if self.fusion_type == 'aggre_all':
            return None, self.visual_fc(
                self.dropout(self.representation(tokens)))
        cls_token = tokens[:, 0]
        vis = self.dropout(
            self.representation(tokens[:, self.num_extra_tokens:]))
        if self.fusion_type == 'concat':
            return None, self.visual_fc(torch.cat([cls_token, vis], dim=1))
        return self.cls_fc(cls_token), self.visual_fc(vis)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits (B, num_classes): the sum of the branches."""
        cls_logits, vis_logits = self.forward_branches(feats)
        return vis_logits if cls_logits is None else cls_logits + vis_logits

    def loss(self, feats: Sequence[torch.Tensor],
             data_samples: List[DataSample], **kwargs) -> Dict:
        """mmpretrain's loss of the logits; 'sum_loss': ``loss_cls`` +
        ``loss_vis``, one per branch."""
        if self.fusion_type != 'sum_loss':
            return super().loss(feats, data_samples, **kwargs)
        cls_logits, vis_logits = self.forward_branches(feats)
        losses = {}
        for name, logits in (('cls', cls_logits), ('vis', vis_logits)):
            for key, value in self._get_loss(logits, data_samples,
                                             **kwargs).items():
                key = f'loss_{name}' if key == 'loss' else f'{key}_{name}'
                losses[key] = value
        return losses
