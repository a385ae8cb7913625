# Copyright (c) mmvitplug contributors.
"""The agent CNN of "Bootstrapping ViTs".

`Zhang et al. 2022, "Bootstrapping ViTs: Towards Liberating Vision
Transformers from Pre-training" <https://arxiv.org/abs/2112.03552>`_
(CVPR 2022); official code: zhfeing/Bootstrapping-ViTs-pytorch
(``vit_mutual/models/cnn``, ``vit_mutual/models/mutual/joint_model.py``).

A ViT block's multi-head self-attention restricted to a fixed local
attention pattern, head ``h`` attending to one neighbour each, is a
convolution: the agent CNN keeps the ViT's block structure with such
"multi-head" convolutions in place of the attention and 1x1 convolutions in
place of the MLP, and can share those weights with a ViT (``shared=True``).
"""
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

from mmvitplug.layers import DropPath
from mmvitplug.registry import MODELS
from .base import (Parts, VisionBackbone, drop_path_rates, format_featmap,
                   parse_out_indices)

INPUT_PROJS = ('vit_like', 'resnet_like')
CONV_TYPES = ('full', 'heads')


def _valid_head_counts(up_to: int = 49) -> str:
    """The head counts whose kernel ``ceil(sqrt(H))`` is odd, as ranges."""
    ranges = []
    for k in range(1, math.isqrt(up_to) + 1, 2):
        low = (k - 1)**2 + 1
        ranges.append(str(low) if low == k * k else f'{low}..{k * k}')
    return ', '.join(ranges) + ', ...'


def head_kernel_size(num_heads: int) -> int:
    """Kernel size ``k = ceil(sqrt(num_heads))`` of the multi-head
    convolution, checked to be odd (the kernel is centred on the pixel).

    Args:
        num_heads (int): Number of heads (kernel positions used).

    Returns:
        int: The odd kernel size.

    Raises:
        ValueError: ``num_heads`` is not a positive int or gives an even
            kernel size; the message names the head counts that work.
    """
    if not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(
            f'num_heads must be a positive int, got {num_heads!r}')
    k = math.isqrt(num_heads - 1) + 1  # ceil(sqrt(num_heads))
    if k % 2 == 0:
        raise ValueError(
            f'num_heads={num_heads} gives the even kernel size '
            f'ceil(sqrt({num_heads})) = {k}; the multi-head convolution of '
            'AgentCNN needs an odd kernel size, i.e. num_heads in '
            f'{_valid_head_counts()} (e.g. 6 or 9)')
    return k


def heads_to_kernel(weight: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """The k x k kernel of per-head weights: head ``h`` at kernel position
    ``(h // k, h % k)`` (row-major), zero at the positions after the last
    head.

    Args:
        weight (torch.Tensor): (C_out, C_in, H) weights, ``H <= k * k``.
        kernel_size (int): ``k``.

    Returns:
        torch.Tensor: (C_out, C_in, k, k) kernel for
        :func:`torch.nn.functional.conv2d` (a cross-correlation: head ``h``
        reads the input at offset ``(h // k - k // 2, h % k - k // 2)``).
    """
    k = kernel_size
    return F.pad(weight, (0, k * k - weight.shape[-1])).unflatten(-1, (k, k))


def attention_head_weights(attn: nn.Module) -> torch.Tensor:
    """The per-head value-output products ``W_o^h W_v^h`` of a multi-head
    self-attention with a fused ``qkv`` (q, k, v order) and a ``proj``.

    For head ``h`` with head dim ``d = C / H``: ``W_h = W_o[:, h d:(h + 1) d]
    @ W_v[h d:(h + 1) d, :]``, ``W_v`` being the value third of
    ``attn.qkv.weight``. The query / key weights, the qkv bias and the
    attention dropout play no part.

    Args:
        attn (nn.Module): An attention with ``qkv`` (C -> 3C), ``proj``
            (C -> C) and ``num_heads`` (as
            :class:`~mmvitplug.layers.Attention`).

    Returns:
        torch.Tensor: (C_out, C_in, H), differentiable w.r.t. the
        attention's parameters.
    """
    dims = attn.proj.weight.shape[0]
    heads = attn.num_heads
    w_v = attn.qkv.weight[2 * dims:].unflatten(0, (heads, dims // heads))
    w_o = attn.proj.weight.unflatten(1, (heads, dims // heads))
    return torch.einsum('ohd,hdi->oih', w_o, w_v)


class ModuleRef:
    """A reference to a module kept outside the module tree of its holder.

    Holding a module through it (instead of as an attribute) keeps the
    module out of the holder's ``children()``, ``parameters()``,
    ``state_dict()``, ``apply()`` / ``init_weights()``, ``train()`` and
    ``.to()``.

    Deep copies: a copy of the reference points to the copy of the module
    if the same ``copy.deepcopy`` call copied the module too (e.g. an EMA
    copy of a model that registers both the ViT and the agent CNN), and to
    the original module otherwise (a copy of the agent CNN alone shares the
    live ViT, which is not copied). The choice is made on first use after
    the copy, so the order in which the module and the reference are
    copied does not matter (until then the copy keeps ``deepcopy``'s memo).
    Pickling stores the module (shared within one pickle).

    Args:
        module (nn.Module): The referenced module.
    """

    def __init__(self, module: nn.Module):
        self._module = module
        self._memo: Optional[dict] = None

    @property
    def module(self) -> nn.Module:
        """The referenced module."""
        if self._memo is not None:
            self._module = self._memo.get(id(self._module), self._module)
            self._memo = None
        return self._module

    def __deepcopy__(self, memo: dict) -> 'ModuleRef':
        ref = ModuleRef(self.module)
        ref._memo = memo  # resolved on first use, once the copy is done
        return ref

    def __getstate__(self) -> dict:
        return {'_module': self.module, '_memo': None}


class HeadConv(nn.Module):
    """Multi-head convolution with its own weights (the official
    ``Conv_ManyHead``): a k x k convolution, ``k = ceil(sqrt(H))``, of which
    only the first ``H`` kernel positions in row-major order are free.

    Only the (C, C, H) per-head weights are parameters; the kernel
    (:meth:`kernel`) is assembled from them in every forward, so the other
    ``k * k - H`` positions are structurally zero (no gradient, no masking).

    Args:
        channels (int): Input and output channels.
        num_heads (int): Number of heads ``H`` (free kernel positions).
    """

    def __init__(self, channels: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.kernel_size = head_kernel_size(num_heads)
        self.weight = nn.Parameter(torch.empty(channels, channels, num_heads))
        self.bias = nn.Parameter(torch.zeros(channels))
        nn.init.xavier_uniform_(self.weight)

    def kernel(self) -> torch.Tensor:
        """The (C, C, k, k) kernel."""
        return heads_to_kernel(self.weight, self.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel(), self.bias,
                        padding=self.kernel_size // 2)

    def extra_repr(self) -> str:
        return (f'channels={self.weight.shape[0]}, '
                f'num_heads={self.num_heads}, kernel_size={self.kernel_size}')


class ConvMlp(nn.Module):
    """The MLP as 1x1 convolutions: ``fc2(drop(GELU(fc1(x))))``.

    Args:
        channels (int): Input and output channels.
        hidden_channels (int): Hidden channels.
        drop (float): Dropout after the activation.
    """

    def __init__(self, channels: int, hidden_channels: int, drop: float):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden_channels, 1)
        self.act = nn.GELU()
        self.drop = nn.Dropout(drop)
        self.fc2 = nn.Conv2d(hidden_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.act(self.fc1(x))))


class ResNetLikeProj(nn.Module):
    """The official ``resnet_like`` input projection (stride 8): conv 7x7
    s2 (no bias), BN, GELU, max-pool 3x3 s2, conv 3x3 s2 (with bias).

    Args:
        in_channels (int): Image channels.
        stem_channels (int): Channels after the first convolution.
        out_channels (int): Output channels.
        norm_cfg (dict): Config of the norm.
    """

    def __init__(self, in_channels: int, stem_channels: int,
                 out_channels: int, norm_cfg: dict):
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, stem_channels, 7, stride=2, padding=3, bias=False)
        self.norm = build_norm_layer(norm_cfg, stem_channels)[1]
        self.act = nn.GELU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(
            stem_channels, out_channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.maxpool(self.act(self.norm(self.conv1(x)))))


class AgentBlock(nn.Module):
    """One agent-CNN block, the convolutional twin of a ViT block.

    Pre-norm::

        x = x + drop_path(branch_drop(conv(norm1(x))))
        x = x + drop_path(branch_drop(mlp(norm2(x))))

    post-norm (``pre_norm=False``)::

        x = x + drop_path(branch_drop(norm1(conv(x))))
        x = x + drop_path(branch_drop(norm2(mlp(x))))

    The norms are the block's own BatchNorms in both modes. In joint mode
    ``conv`` is a full k x k ``nn.Conv2d`` (``conv_type='full'``) or a
    :class:`HeadConv` (``'heads'``) and ``mlp`` a :class:`ConvMlp`. In shared
    mode the block has neither: once :meth:`bind` has given it a ViT block,
    every forward computes the kernel from that block's attention
    (:func:`attention_head_weights`, bias ``attn.proj.bias``) and applies
    its ``mlp.fc1`` / ``mlp.act`` / ``mlp.fc2`` as 1x1 convolutions, with
    the block's own MLP dropout.

    Args:
        channels (int): Channels ``C``.
        num_heads (int): Heads ``H``; the kernel size is
            ``ceil(sqrt(H))``.
        hidden_channels (int): MLP hidden channels.
        conv_type (str, optional): 'full' or 'heads'; None in shared mode.
        pre_norm (bool): Pre-norm (True) or post-norm branches.
        drop (float): MLP dropout (after the activation).
        branch_drop (float): Dropout on each branch's output.
        drop_path (float): Stochastic depth of both branches.
        norm_cfg (dict): Config of the norms.
    """

    def __init__(self, channels: int, num_heads: int, hidden_channels: int,
                 conv_type: Optional[str], pre_norm: bool, drop: float,
                 branch_drop: float, drop_path: float, norm_cfg: dict):
        super().__init__()
        self.num_heads = num_heads
        self.kernel_size = k = head_kernel_size(num_heads)
        self.pre_norm = pre_norm
        self.shared = conv_type is None
        self.norm1 = build_norm_layer(norm_cfg, channels)[1]
        self.norm2 = build_norm_layer(norm_cfg, channels)[1]
        if self.shared:
            self.conv = None
            self.mlp = None
            self.mlp_drop = nn.Dropout(drop)
        elif conv_type == 'full':
            self.conv = nn.Conv2d(channels, channels, k, padding=k // 2)
            self.mlp = ConvMlp(channels, hidden_channels, drop)
        else:
            self.conv = HeadConv(channels, num_heads)
            self.mlp = ConvMlp(channels, hidden_channels, drop)
        self.branch_drop = nn.Dropout(branch_drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()
        self._vit_block: Optional[ModuleRef] = None

    # --------------------------------------------------------- shared mode
    def bind(self, vit_block: nn.Module) -> None:
        """Share the conv and MLP weights of a ViT block (shared mode; the
        block is held by a :class:`ModuleRef`, not registered)."""
        if not self.shared:
            raise RuntimeError('bind() is for a shared-mode AgentBlock; this '
                               'one has its own conv and MLP weights')
        self._vit_block = ModuleRef(vit_block)

    @property
    def vit_block(self) -> Optional[nn.Module]:
        """The bound ViT block (shared mode), or None."""
        return None if self._vit_block is None else self._vit_block.module

    def _source(self) -> nn.Module:
        block = self.vit_block
        if block is None:
            raise RuntimeError(
                'AgentCNN(shared=True) is not bound to a ViT: call '
                'AgentCNN.share_weights_with(vit) before the forward pass')
        return block

    def kernel(self) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The (C, C, k, k) kernel and bias of the convolution."""
        if self.conv is None:
            attn = self._source().attn
            return (heads_to_kernel(attention_head_weights(attn),
                                    self.kernel_size), attn.proj.bias)
        if isinstance(self.conv, HeadConv):
            return self.conv.kernel(), self.conv.bias
        return self.conv.weight, self.conv.bias

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            return self.conv(x)
        weight, bias = self.kernel()
        return F.conv2d(x, weight, bias, padding=self.kernel_size // 2)

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:
        if self.mlp is not None:
            return self.mlp(x)
        mlp = self._source().mlp
        x = F.conv2d(x, mlp.fc1.weight[..., None, None], mlp.fc1.bias)
        x = self.mlp_drop(mlp.act(x))
        return F.conv2d(x, mlp.fc2.weight[..., None, None], mlp.fc2.bias)

    # -------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        if self.pre_norm:
            x = x + self.drop_path(self.branch_drop(self._conv(
                self.norm1(x))))
            return x + self.drop_path(self.branch_drop(self._mlp(
                self.norm2(x))))
        x = x + self.drop_path(self.branch_drop(self.norm1(self._conv(x))))
        return x + self.drop_path(self.branch_drop(self.norm2(self._mlp(x))))

    def extra_repr(self) -> str:
        if self.shared:
            mode = 'shared, ' + ('unbound' if self._vit_block is None else
                                 'bound')
        else:
            mode = 'joint'
        return (f'{mode}, kernel_size={self.kernel_size}, '
                f'pre_norm={self.pre_norm}')


@MODELS.register_module()
class AgentCNN(VisionBackbone):
    """The agent CNN of Bootstrapping ViTs.

    `Bootstrapping ViTs <https://arxiv.org/abs/2112.03552>`_ trains a ViT
    together with an "agent" CNN whose blocks are the ViT's blocks with the
    self-attention restricted to a local pattern: head ``h`` of ``H`` sees
    only the neighbour at kernel position ``(h // k, h % k)`` of a k x k
    window, ``k = ceil(sqrt(H))``, which makes the attention a convolution
    with per-position weights ``W_o^h W_v^h`` and the MLP a pair of 1x1
    convolutions. The network:

    - an input projection (``input_proj``): 'vit_like', a ``patch_size``
      strided convolution as the ViT's patch embedding (official init: weight
      N(0, 1), bias 0; here Xavier-uniform as every other convolution), or
      'resnet_like' (stride 8: conv 7x7 s2 3 -> ``stem_channels`` without
      bias, BN, GELU, max-pool 3x3 s2, conv 3x3 s2 -> C with bias);
    - ``num_layers`` :class:`AgentBlock` s (pre- or post-norm, BatchNorm),
      followed by a 2x2 average pooling after the blocks in
      ``down_sample_layers``;
    - the top: BatchNorm and GELU (then global average pooling for
      ``out_type='avg_featmap'``). A classification head is separate (the
      official CNN's own ``nn.Linear``, not the ViT's head).

    Two modes:

    - **joint** (``shared=False``): every weight is the CNN's own. The
      official joint agent-small uses a full 3x3 convolution (``Conv_SL``,
      ``conv_type='full'``), agent-base the head-restricted one
      (``Conv_ManyHead``, ``conv_type='heads'``: only (C, C, H) weights, the
      other kernel positions structurally zero).
    - **shared** (``shared=True``): the blocks have no conv / MLP
      parameters; :meth:`share_weights_with` binds block ``i`` to ViT block
      ``i`` and every forward then computes the kernel from the ViT's live
      ``attn.qkv`` (value third) and ``attn.proj`` weights (bias
      ``attn.proj.bias``; the value bias and attention dropout are ignored,
      as official) and runs the ViT's ``mlp.fc1`` / ``mlp.act`` /
      ``mlp.fc2`` as 1x1 convolutions (with the CNN's own MLP dropout, as
      the official copy of the ViT's dropout module). Gradients of the
      CNN's losses reach the ViT's parameters; device and dtype follow the
      ViT. The BatchNorms, the input projection and the top stay the CNN's
      own.

    Shared mode and the module tree: the ViT blocks are held through
    :class:`ModuleRef`, not registered, so the CNN's ``state_dict()``,
    ``parameters()``, ``init_weights()``, ``train()`` and ``.to()`` never see
    the ViT (no duplicate keys, each parameter once in the optimizer when
    the model holding both registers the ViT). Register the ViT in the
    model that holds both and wrap that model as a whole in DDP: the ViT's
    parameters get their gradients from both networks in one backward and
    are reduced once (if some iteration runs only the CNN, the ViT's
    parameters that the CNN does not use, e.g. its norms, position
    embedding and qkv bias, need ``find_unused_parameters``). A deep copy of
    the CNN alone shares the live ViT; a deep copy of a model holding both
    (mmengine's EMA copies the whole model) binds the CNN copy to the ViT
    copy, so the EMA agent computes its kernels from the averaged ViT.
    ``frozen_stages`` freezes the CNN's own parameters only (the ViT's are
    the ViT's to freeze).

    Stage ``i`` is block ``i``; its output is the block's map *before* the
    pooling of ``down_sample_layers`` (the features the official hint loss
    records), except the last stage, whose output has the pooling (if any)
    and the top. Any input size works (NCHW maps at strides ``patch_size``
    or 8, times 2 per pooling passed), so dense heads can take the maps.

    The zoo (the official CIFAR-100 configs, ``config/cifar100/cnn`` and
    ``shared``; the official "base" pairs with its 384-d ViT, DeiT-S-sized):

    - ``agent-small``: C 288, 6 blocks, 9 heads, MLP 1152, vit_like
      (16 x 16 patches), pre-norm, ``conv_type='full'``;
    - ``agent-small-res_like``: resnet_like, ``down_sample_layers=(0, 1)``;
    - ``agent-base``: C 384, 12 blocks, 6 heads (the bottom kernel row is
      unused), MLP 1536, vit_like, post-norm, ``conv_type='heads'``;
    - ``agent-base-res_like``: resnet_like, ``down_sample_layers=(2, 8)``,
      post-norm.

    The official dropouts are constructor arguments: joint mode
    ``drop_rate=0.1`` (MLP), shared mode the ViT's dropout (0.1 for small,
    none for base) as both ``drop_rate`` and ``branch_drop_rate``.

    Not reproduced: the official inits of biases (``normal_(bias, 1e-6)``,
    i.e. std 1) and of the vit_like convolution (N(0, 1)); the dense
    ``phi`` matrices of the official convolution (the same function as
    :func:`torch.nn.functional.conv2d` with the assembled kernel).

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels`` and optionally ``input_proj``,
            ``patch_size``, ``down_sample_layers``, ``pre_norm``,
            ``conv_type`` (the defaults of the arguments of the same names).
            Defaults to 'agent-small'.
        in_channels (int): Image channels. Defaults to 3.
        input_proj (str, optional): 'vit_like' or 'resnet_like'. Defaults to
            the arch's ('vit_like' if it has none).
        patch_size (int, optional): Patch size of the 'vit_like' projection
            (not for 'resnet_like'). Defaults to the arch's, or 16.
        stem_channels (int, optional): Channels of the first 'resnet_like'
            convolution (official ``mid_channel``; not for 'vit_like').
            Defaults to 64.
        down_sample_layers (Sequence[int], optional): Blocks followed by a
            2x2 average pooling (negative indices count from the end).
            Defaults to the arch's, or none.
        pre_norm (bool, optional): Pre-norm (True) or post-norm blocks.
            Defaults to the arch's, or True.
        conv_type (str, optional): Joint-mode convolution: 'full' (every
            k x k position) or 'heads' (the first H positions only). Shared
            mode ignores the arch's and accepts only 'heads' here. Defaults
            to the arch's, or 'heads'.
        shared (bool): Shared mode (see above). Defaults to False.
        drop_rate (float): MLP dropout (after the activation).
            Defaults to 0.
        branch_drop_rate (float): Dropout on the output of every residual
            branch (the official ``dropout1``). Defaults to 0.
        drop_path_rate (float): Stochastic depth, rising linearly from 0
            over the blocks (not in the official code). Defaults to 0.
        norm_cfg (dict): Config of every BatchNorm (``dict(type='SyncBN')``
            as the official joint training). Defaults to
            ``dict(type='BN')``.
        out_indices (int | Sequence[int]): Blocks whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'avg_featmap' (B, C) spatial means or 'featmap'
            (B, C, H, W) contiguous maps. Defaults to 'avg_featmap'.
        frozen_stages (int): -1 freezes nothing; 0 freezes the input
            projection; k > 0 also the first k blocks (and the top when k ==
            num_layers). Frozen parts stay in eval mode. Defaults to -1.
        with_cp (bool): Gradient checkpointing of the blocks in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'agent-small':
        dict(embed_dims=288, num_layers=6, num_heads=9,
             feedforward_channels=1152, input_proj='vit_like', patch_size=16,
             down_sample_layers=(), pre_norm=True, conv_type='full'),
        'agent-small-res_like':
        dict(embed_dims=288, num_layers=6, num_heads=9,
             feedforward_channels=1152, input_proj='resnet_like',
             down_sample_layers=(0, 1), pre_norm=True, conv_type='full'),
        'agent-base':
        dict(embed_dims=384, num_layers=12, num_heads=6,
             feedforward_channels=1536, input_proj='vit_like', patch_size=16,
             down_sample_layers=(), pre_norm=False, conv_type='heads'),
        'agent-base-res_like':
        dict(embed_dims=384, num_layers=12, num_heads=6,
             feedforward_channels=1536, input_proj='resnet_like',
             down_sample_layers=(2, 8), pre_norm=False, conv_type='heads'),
    }
    arch_keys = ('embed_dims', 'num_layers', 'num_heads',
                 'feedforward_channels')
    optional_arch_keys = ('input_proj', 'patch_size', 'down_sample_layers',
                          'pre_norm', 'conv_type')
    out_types = ('avg_featmap', 'featmap')
    parts = Parts(stem=('input_proj', ), stages='blocks', top=('norm', 'act'))

    def __init__(self,
                 arch: Union[str, dict] = 'agent-small',
                 in_channels: int = 3,
                 input_proj: Optional[str] = None,
                 patch_size: Optional[int] = None,
                 stem_channels: Optional[int] = None,
                 down_sample_layers: Optional[Sequence[int]] = None,
                 pre_norm: Optional[bool] = None,
                 conv_type: Optional[str] = None,
                 shared: bool = False,
                 drop_rate: float = 0.,
                 branch_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'avg_featmap',
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        s = self.arch_settings
        self.embed_dims = dims = s['embed_dims']
        self.num_layers = s['num_layers']
        self.num_heads = s['num_heads']
        self.feedforward_channels = s['feedforward_channels']
        self.kernel_size = head_kernel_size(self.num_heads)
        if dims % self.num_heads:
            raise ValueError(
                f'embed_dims ({dims}) must be divisible by num_heads '
                f'({self.num_heads})')

        if input_proj is None:
            input_proj = s.get('input_proj', 'vit_like')
        if input_proj not in INPUT_PROJS:
            raise ValueError(f'Unknown input_proj {input_proj!r}; choose '
                             f'from {list(INPUT_PROJS)}')
        if input_proj == 'vit_like':
            if stem_channels is not None:
                raise ValueError(
                    'stem_channels is for the resnet_like input projection; '
                    "input_proj is 'vit_like'")
            if patch_size is None:
                patch_size = s.get('patch_size', 16)
            if not isinstance(patch_size, int) or patch_size < 1:
                raise ValueError('patch_size must be a positive int, got '
                                 f'{patch_size!r}')
        elif patch_size is not None:
            raise ValueError('patch_size is for the vit_like input '
                             "projection; input_proj is 'resnet_like' "
                             '(stride 8)')
        self.input_proj_type = input_proj
        self.patch_size = patch_size if input_proj == 'vit_like' else 8

        if down_sample_layers is None:
            down_sample_layers = s.get('down_sample_layers', ())
        self.down_sample_layers = parse_out_indices(
            down_sample_layers, self.num_layers, 'blocks',
            name='down_sample_layers')
        if pre_norm is None:
            pre_norm = s.get('pre_norm', True)
        if not isinstance(pre_norm, bool):
            raise ValueError(f'pre_norm must be True or False, got '
                             f'{pre_norm!r}')
        self.pre_norm = pre_norm

        if not isinstance(shared, bool):
            raise ValueError(f'shared must be True or False, got {shared!r}')
        if conv_type is not None and conv_type not in CONV_TYPES:
            raise ValueError(f'Unknown conv_type {conv_type!r}; choose from '
                             f'{list(CONV_TYPES)}')
        if shared:
            if conv_type == 'full':
                raise ValueError(
                    "conv_type='full' has no ViT counterpart: shared mode "
                    "builds the 'heads' convolution from the ViT's "
                    "attention; pass conv_type=None or 'heads'")
            conv_type = None
        else:
            if conv_type is None:
                conv_type = s.get('conv_type', 'heads')
            if conv_type not in CONV_TYPES:
                raise ValueError(f'Unknown arch conv_type {conv_type!r}; '
                                 f'choose from {list(CONV_TYPES)}')
        self.shared = shared
        self.conv_type = conv_type

        if input_proj == 'vit_like':
            self.input_proj = nn.Conv2d(
                in_channels, dims, patch_size, stride=patch_size)
        else:
            if stem_channels is None:
                stem_channels = 64
            if not isinstance(stem_channels, int) or stem_channels < 1:
                raise ValueError('stem_channels must be a positive int, got '
                                 f'{stem_channels!r}')
            self.input_proj = ResNetLikeProj(in_channels, stem_channels,
                                             dims, norm_cfg)
        dpr = drop_path_rates(drop_path_rate, self.num_layers, 'linear')
        self.blocks = nn.ModuleList([
            AgentBlock(
                dims,
                self.num_heads,
                self.feedforward_channels,
                conv_type=conv_type,
                pre_norm=pre_norm,
                drop=drop_rate,
                branch_drop=branch_drop_rate,
                drop_path=dpr[i],
                norm_cfg=norm_cfg) for i in range(self.num_layers)
        ])
        self.norm = build_norm_layer(norm_cfg, dims)[1]
        self.act = nn.GELU()

    # --------------------------------------------------------- shared mode
    def share_weights_with(self, vit: Union[nn.Module, Sequence[nn.Module]]
                           ) -> 'AgentCNN':
        """Bind block ``i`` to ViT block ``i`` (shared mode).

        Binding again replaces the previous binding. The ViT is not
        registered (see the class docstring).

        Args:
            vit (nn.Module | Sequence[nn.Module]): A ViT backbone with
                ``blocks`` (e.g. :class:`~mmvitplug.models.backbones.DeiT`)
                or its blocks; each block needs ``attn.qkv`` (C -> 3C, q, k,
                v order), ``attn.proj`` (C -> C), ``attn.num_heads``,
                ``mlp.fc1`` (C -> hidden), ``mlp.act`` and ``mlp.fc2``
                (hidden -> C), as :class:`~mmvitplug.layers.Block`.

        Returns:
            AgentCNN: self.

        Raises:
            RuntimeError: The CNN is not in shared mode.
            ValueError: The ViT's depth, width, heads or MLP width differ
                from the CNN's arch, or its heads give an even kernel.
        """
        if not self.shared:
            raise RuntimeError(
                'share_weights_with needs AgentCNN(shared=True); this one '
                'has its own conv and MLP weights (joint mode)')
        blocks = getattr(vit, 'blocks', vit)
        if isinstance(blocks, nn.Module) and not isinstance(
                blocks, (nn.ModuleList, nn.Sequential)):
            raise ValueError(
                'share_weights_with takes a ViT with `blocks` or its blocks; '
                f'got a {type(vit).__name__} without `blocks`')
        blocks = list(blocks)
        if len(blocks) != self.num_layers:
            raise ValueError(
                f'The ViT has {len(blocks)} blocks but the AgentCNN has '
                f'{self.num_layers}: shared mode binds block i to block i')
        for i, block in enumerate(blocks):
            self._check_vit_block(i, block)
        for block, vit_block in zip(self.blocks, blocks):
            block.bind(vit_block)
        return self

    def _check_vit_block(self, i: int, block: nn.Module) -> None:
        parts = {}
        for path in ('attn.qkv', 'attn.proj', 'attn.num_heads', 'mlp.fc1',
                     'mlp.act', 'mlp.fc2'):
            value = block
            for name in path.split('.'):
                value = getattr(value, name, None)
            if value is None:
                raise ValueError(
                    f'ViT block {i} ({type(block).__name__}) has no {path}: '
                    'share_weights_with needs blocks with attn.qkv, '
                    'attn.proj, attn.num_heads, mlp.fc1, mlp.act and '
                    'mlp.fc2 (as mmvitplug.layers.Block)')
            parts[path] = value
        qkv, proj = parts['attn.qkv'], parts['attn.proj']
        fc1, fc2 = parts['mlp.fc1'], parts['mlp.fc2']
        heads = parts['attn.num_heads']
        if not all(isinstance(m, nn.Linear) for m in (qkv, proj, fc1, fc2)):
            raise ValueError(f'ViT block {i}: attn.qkv, attn.proj, mlp.fc1 '
                             'and mlp.fc2 must be nn.Linear layers')
        dims = self.embed_dims
        shapes = {
            'attn.qkv': ((qkv.in_features, qkv.out_features),
                         (dims, 3 * dims)),
            'attn.proj': ((proj.in_features, proj.out_features),
                          (dims, dims)),
            'mlp.fc1': ((fc1.in_features, fc1.out_features),
                        (dims, self.feedforward_channels)),
            'mlp.fc2': ((fc2.in_features, fc2.out_features),
                        (self.feedforward_channels, dims)),
        }
        for name, (got, expected) in shapes.items():
            if got != expected:
                raise ValueError(
                    f'ViT block {i}: {name} maps {got[0]} -> {got[1]} '
                    f'channels but the AgentCNN (embed_dims={dims}, '
                    'feedforward_channels='
                    f'{self.feedforward_channels}) needs {expected[0]} -> '
                    f'{expected[1]}')
        head_kernel_size(heads)  # a clear error for an even kernel
        if heads != self.num_heads:
            raise ValueError(
                f'ViT block {i} has {heads} heads but the AgentCNN has '
                f'num_heads={self.num_heads}')

    @property
    def is_bound(self) -> bool:
        """Whether every block is bound to a ViT block (shared mode)."""
        return self.shared and all(b.vit_block is not None
                                   for b in self.blocks)

    # -------------------------------------------------------------- weights
    def init_default_weights(self):
        """Xavier-uniform convolution weights (the per-head weights of
        :class:`HeadConv` included, as the official ``Conv_SL`` /
        ``Conv_ManyHead`` / ``MLP_CNN``), zero biases, BatchNorms one /
        zero. In shared mode the ViT's weights are left alone."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, HeadConv)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.modules.batchnorm._NormBase) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # ------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor):
        """The input projection: (B, C, H / s, W / s) maps."""
        p = self.patch_size
        if self.input_proj_type == 'vit_like' and \
                (x.shape[-2] < p or x.shape[-1] < p):
            raise ValueError(
                f'AgentCNN input {x.shape[-2]}x{x.shape[-1]} is smaller '
                f'than the {p}x{p} patches of the vit_like projection')
        return self.input_proj(x), None

    def forward_stage(self, index: int, x: torch.Tensor, context):
        """Block ``index``, after the pooling of the previous block if it is
        in ``down_sample_layers``."""
        if index - 1 in self.down_sample_layers:
            x = F.avg_pool2d(x, 2)
        return super().forward_stage(index, x, context)

    def format_output(self, x: torch.Tensor, index: int, context):
        """Block maps as ``out_type`` says; after the last block, its
        pooling (if in ``down_sample_layers``), then the top (BN, GELU)."""
        if index == self.num_stages - 1:
            if index in self.down_sample_layers:
                x = F.avg_pool2d(x, 2)
            x = self.act(self.norm(x))
        return format_featmap(x, self.out_type)
