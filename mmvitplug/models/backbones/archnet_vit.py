# Copyright (c) mmvitplug contributors.
"""Arch-Net's Transformer student for images: a DeiT of LSQ-quantised
linear layers, BatchNorm for LayerNorm, full-precision softmax and residual
additions.

`Xu et al. 2021, "Arch-Net: Model Distillation for Architecture Agnostic
Model Deployment" <https://arxiv.org/abs/2111.01135>`_; the official
Transformer student (megvii-research/Arch-Net
``models/students/transformer.py``, a translation model) carried over to a
ViT.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmvitplug.layers import (DropPath, LSQConv2d, LSQLinear, LSQQuantizer,
                              PatchEmbed, attend, record_weights,
                              recording_attention, resize_pos_embed)
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, drop_path_rates, format_tokens


class TokenBatchNorm(nn.BatchNorm1d):
    """``BatchNorm1d`` over the channels of tokens (B, N, C) (statistics
    over the batch and the tokens: the official student's ``BatchNorm2d``
    on (B, C, L, 1) in place of each LayerNorm), then a signed LSQ
    quantiser (``quant``). Same parameter names as a LayerNorm (``weight``,
    ``bias``), plus the running statistics and ``quant.alpha``.

    Args:
        num_features (int): Channels C.
        a_bits (int, optional): Bits of the output (None: not quantised).
        eps (float): Added to the variance. Defaults to 1e-6 (official).
    """

    def __init__(self, num_features: int, a_bits: Optional[int],
                 eps: float = 1e-6):
        super().__init__(num_features, eps=eps)
        self.quant = LSQQuantizer(a_bits, signed=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError('TokenBatchNorm normalises tokens (B, N, C), '
                             f'got a tensor of shape {tuple(x.shape)}')
        return self.quant(super().forward(x.transpose(1, 2)).transpose(1, 2))


class ArchNetAttention(nn.Module):
    """Multi-head self-attention of quantised operators: LSQ ``qkv`` and
    ``proj`` weights, each of q, k, v quantised (signed LSQ), the logits,
    softmax and their product with v in full precision (as the official
    student: its context is not quantised), the output quantised.

    ``logits`` (an identity) sees the scaled logits q k^T / sqrt(d)
    (B, H, N, N) before the softmax: a recorder on it (Arch-Net distils
    the attention maps) makes the attention take its explicit path. Without
    one, ``fused_attn`` computes the same function with
    ``F.scaled_dot_product_attention``.

    Args:
        dim (int): Token channels.
        num_heads (int): Heads.
        qkv_bias (bool): Bias in ``qkv``.
        w_bits (int, optional): Weight bits (None: full precision).
        a_bits (int, optional): Activation bits (None: full precision).
        fused_attn (bool): Fused kernel when the logits are not recorded.
        proj_drop (float): Dropout on the output.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool,
                 w_bits: Optional[int], a_bits: Optional[int],
                 fused_attn: bool, proj_drop: float):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed_dims {dim} is not divisible by '
                             f'num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn
        self.qkv = LSQLinear(dim, dim * 3, bias=qkv_bias, w_bits=w_bits)
        self.q_quant = LSQQuantizer(a_bits, signed=True)
        self.k_quant = LSQQuantizer(a_bits, signed=True)
        self.v_quant = LSQQuantizer(a_bits, signed=True)
        self.logits = nn.Identity()
        self.proj = LSQLinear(dim, dim, w_bits=w_bits)
        self.proj_quant = LSQQuantizer(a_bits, signed=True)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        q, k, v = self.q_quant(q), self.k_quant(k), self.v_quant(v)
        if self.fused_attn and not self.logits._forward_hooks and \
                not recording_attention():
            x = attend(q, k, v, scale=self.scale, fused=True)
        else:
            attn = self.logits(q * self.scale @ k.transpose(-2, -1))
            attn = attn.softmax(dim=-1)
            record_weights(attn)
            x = attn @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj_quant(self.proj(x)))


class ArchNetMlp(nn.Module):
    """``fc1`` -> ReLU -> unsigned LSQ (a quantised ReLU, replacing the
    teacher's GELU as the official student replaces its ReLU) -> ``fc2``
    -> signed LSQ; LSQ weights.

    Args:
        dim (int): Token channels.
        hidden (int): Hidden channels.
        w_bits (int, optional): Weight bits (None: full precision).
        a_bits (int, optional): Activation bits (None: full precision).
        drop (float): Dropout after the activation and on the output.
    """

    def __init__(self, dim: int, hidden: int, w_bits: Optional[int],
                 a_bits: Optional[int], drop: float):
        super().__init__()
        self.fc1 = LSQLinear(dim, hidden, w_bits=w_bits)
        self.act = nn.ReLU()
        self.act_quant = LSQQuantizer(a_bits, signed=False)
        self.fc2 = LSQLinear(hidden, dim, w_bits=w_bits)
        self.out_quant = LSQQuantizer(a_bits, signed=True)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act_quant(self.act(self.fc1(x))))
        return self.drop(self.out_quant(self.fc2(x)))


class ArchNetViTBlock(nn.Module):
    """Pre-norm Transformer block of the student::

        x = x + drop_path1(attn(norm1(x)))
        x = x + drop_path2(mlp(norm2(x)))

    ``norm*`` are :class:`TokenBatchNorm` s (BatchNorm + signed LSQ); the
    residual stream stays full precision (as the official residual
    additions). Module names follow DeiT's, so a DeiT's weights load (the
    LayerNorm affine parameters into the BatchNorms').

    Args:
        dim (int): Token channels.
        num_heads (int): Heads.
        hidden (int): MLP hidden channels.
        qkv_bias (bool): Bias in ``qkv``.
        w_bits (int, optional): Weight bits.
        a_bits (int, optional): Activation bits.
        fused_attn (bool): See :class:`ArchNetAttention`.
        drop (float): Dropout rate of the attention output and the MLP.
        drop_path (float): Stochastic-depth rate of both branches.
    """

    def __init__(self, dim: int, num_heads: int, hidden: int,
                 qkv_bias: bool, w_bits: Optional[int],
                 a_bits: Optional[int], fused_attn: bool, drop: float,
                 drop_path: float):
        super().__init__()
        self.norm1 = TokenBatchNorm(dim, a_bits)
        self.attn = ArchNetAttention(dim, num_heads, qkv_bias, w_bits, a_bits,
                                     fused_attn, drop)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()
        self.norm2 = TokenBatchNorm(dim, a_bits)
        self.mlp = ArchNetMlp(dim, hidden, w_bits, a_bits, drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


@MODELS.register_module()
class ArchNetViT(VisionBackbone):
    """`Arch-Net <https://arxiv.org/abs/2111.01135>`_'s Transformer student,
    for images: a DeiT made of simple quantised operators.

    The official Transformer student (a translation model) replaces every
    LayerNorm of its teacher by a BatchNorm over the channels, every linear
    layer by an LSQ one and quantises every activation with a learned step
    (LSQ, :mod:`mmvitplug.layers.lsq`), keeping the softmax, the attention
    products and the residual additions in full precision. This backbone
    does the same to DeiT (`Touvron et al. 2021
    <https://arxiv.org/abs/2012.12877>`_):

    - patch embedding: an LSQ convolution of the image; class token and
      position embedding full precision (the official sinusoid is added in
      full precision too);
    - each block (:class:`ArchNetViTBlock`): :class:`TokenBatchNorm` (with a
      signed LSQ), attention of LSQ linears with q, k, v quantised, its output
      quantised; BatchNorm, signed LSQ, LSQ ``fc1``, a quantised ReLU (the
      teacher's GELU is not a simple operator), LSQ ``fc2``, its output
      quantised; full-precision residuals;
    - final norm: BatchNorm + signed LSQ.

    Not official (the official activations are all unsigned, even those of
    values of both signs, which clips them at 0): the activations of both
    signs get signed quantisers. Names follow :class:`mmvitplug.DeiT`
    (``patch_embed.proj``, ``blocks.{i}.norm1``, ``.attn.qkv``...), so a
    DeiT's weights initialise it (the teacher's, in
    :class:`mmvitplug.ArchNetClassifier`). The steps of the quantisers
    (``*.alpha``) are set from the first training batch.

    Args:
        arch (str | dict): 'deit-tiny', 'deit-small', 'deit-base' or a dict
            with ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels``. Defaults to 'deit-small'.
        img_size (int | tuple[int, int]): Size the position embedding is made
            for. Defaults to 224.
        patch_size (int): Patch size. Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        w_bits (int, optional): Bits of every weight but the head's (None:
            full precision). Defaults to 2 (the official 2w4a).
        a_bits (int, optional): Bits of every quantised activation (None:
            full precision). Defaults to 4.
        qkv_bias (bool): Bias in the qkv projections (DeiT's). Defaults to
            True.
        final_norm (bool): BatchNorm + LSQ after the last block. Defaults to
            True.
        drop_rate (float): Dropout after the position embedding, the
            attention outputs and in the MLPs (for fine-tuning; Arch-Net
            distils without). Defaults to 0.
        drop_path_rate (float): Stochastic-depth rate, ``drop_path_rate * i
            / (num_layers - 1)`` in block ``i`` (DeiT's). Defaults to 0.
        out_indices (int | Sequence[int]): Blocks whose output is returned.
            Defaults to -1.
        out_type (str): 'cls_token', 'featmap' (B, C, H/p, W/p),
            'avg_featmap' or 'raw', as :class:`mmvitplug.DeiT`. Defaults to
            'cls_token'.
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and
            k blocks. Defaults to -1.
        interpolate_mode (str): Mode resizing the position embedding to other
            grids. Defaults to 'bicubic'.
        fused_attn (bool): Fused attention kernels when the attention logits
            are not recorded. Defaults to True.
        with_cp (bool): Gradient checkpointing of the blocks in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'deit-tiny':
        dict(embed_dims=192, num_layers=12, num_heads=3,
             feedforward_channels=768),
        'deit-small':
        dict(embed_dims=384, num_layers=12, num_heads=6,
             feedforward_channels=1536),
        'deit-base':
        dict(embed_dims=768, num_layers=12, num_heads=12,
             feedforward_channels=3072),
    }
    arch_keys = ('embed_dims', 'num_layers', 'num_heads',
                 'feedforward_channels')
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')
    token_pruning_note = (
        'its TokenBatchNorm normalises with statistics over every token, so '
        'in training the dropped tokens would still shape the kept ones')
    parts = Parts(
        stem=('patch_embed', 'cls_token', 'pos_embed', 'pos_drop'),
        stages='blocks',
        top=('norm', ))
    trunc_normal_params = ('pos_embed', 'cls_token')
    num_extra_tokens = 1

    def __init__(self,
                 arch: Union[str, dict] = 'deit-small',
                 img_size: Union[int, Tuple[int, int]] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 w_bits: Optional[int] = 2,
                 a_bits: Optional[int] = 4,
                 qkv_bias: bool = True,
                 final_norm: bool = True,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 frozen_stages: int = -1,
                 interpolate_mode: str = 'bicubic',
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        dims = self.embed_dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        self.interpolate_mode = interpolate_mode
        self.patch_size = patch_size
        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels, dims)
        proj = self.patch_embed.proj
        self.patch_embed.proj = LSQConv2d(
            in_channels, dims, proj.kernel_size, proj.stride, w_bits=w_bits)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        num_tokens = self.num_extra_tokens + self.patch_embed.num_patches
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, dims))
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, self.num_layers, 'linear')
        self.blocks = nn.ModuleList([
            ArchNetViTBlock(dims, settings['num_heads'],
                            settings['feedforward_channels'], qkv_bias,
                            w_bits, a_bits, fused_attn, drop_rate, dpr[i])
            for i in range(self.num_layers)
        ])
        self.final_norm = final_norm
        self.norm = TokenBatchNorm(dims, a_bits) if final_norm else \
            nn.Identity()

    def embed(self, x: torch.Tensor):
        """Patch tokens, the class token, the position embedding."""
        x, hw = self.patch_embed(x)
        pos_embed = resize_pos_embed(
            self.pos_embed,
            self.patch_embed.grid_size,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=self.num_extra_tokens)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        return self.pos_drop(x + pos_embed), hw

    def format_output(self, x: torch.Tensor, index: int,
                      hw: Tuple[int, int]):
        """The final norm (and its quantiser) after the last block, then
        ``out_type``."""
        if index == self.num_stages - 1:
            x = self.norm(x)
        if self.out_type == 'cls_token':
            return x[:, 0]
        return format_tokens(x, self.out_type, hw, self.num_extra_tokens)
