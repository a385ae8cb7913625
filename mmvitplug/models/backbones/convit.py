# Copyright (c) mmvitplug contributors.
"""ConViT backbone.

`d'Ascoli et al. 2021 <https://arxiv.org/abs/2103.10697>`_.
"""
from functools import partial
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmvitplug.layers import (Block, PatchEmbed, active_keep, attend,
                              key_policy, record_weights, recording_attention,
                              resize_pos_embed, softmax_with_policy)
from mmvitplug.registry import MODELS
from .base import (Parts, VisionBackbone, drop_path_rates, format_tokens,
                   norm_factory)


def relative_indices(hw: Tuple[int, int],
                     device=None,
                     dtype=torch.float32) -> torch.Tensor:
    """Relative positions of every pair of patches of an (H, W) grid.

    Patch ``n`` is at row ``n // W`` and column ``n % W`` (row-major
    tokens). For a query patch ``n`` and a key patch ``m`` the offsets are
    ``dx = col(m) - col(n)``, ``dy = row(m) - row(n)`` and the squared
    distance ``dx**2 + dy**2``: the official ``get_rel_indices`` (channels
    0, 1, 2), which assumes a square grid, generalised to any (H, W).

    Args:
        hw (tuple[int, int]): The patch grid (H, W).
        device (torch.device, optional): Device of the result.
        dtype (torch.dtype): Dtype of the result. Defaults to float32.

    Returns:
        torch.Tensor: (3, H * W * H * W), rows ``dx``, ``dy``, ``dx**2 +
        dy**2`` of the pairs (n, m) in row-major order (a (3, N, N) tensor,
        flattened).
    """
    H, W = hw
    rows = torch.arange(H, device=device).repeat_interleave(W)
    cols = torch.arange(W, device=device).repeat(H)
    dx = (cols[None, :] - cols[:, None]).flatten()
    dy = (rows[None, :] - rows[:, None]).flatten()
    return torch.stack((dx, dy, dx * dx + dy * dy)).to(dtype)


def _grid_of(num_tokens: int) -> Tuple[int, int]:
    side = int(round(num_tokens**0.5))
    if side * side != num_tokens:
        raise ValueError(
            f'GPSA got {num_tokens} tokens and no relative indices: without '
            'them the patch grid must be square (pass rel_indices = '
            'relative_indices((H, W)) for an H x W grid)')
    return side, side


class GPSA(nn.Module):
    """Gated positional self-attention of `ConViT
    <https://arxiv.org/abs/2103.10697>`_.

    Each head mixes content attention and a learned positional attention
    that depends only on the relative offsets (dx, dy, dx^2 + dy^2) of the
    patches, through a gate ``sigmoid(gating_param)``::

        A = (1 - s) * softmax(q k^T * scale) + s * softmax(pos_proj(r))
        A = A / A.sum(-1)          # the official renormalisation
        out = proj(A v)

    The positional scores ``softmax(pos_proj(r))`` (heads, N, N) do not
    depend on the input: they are computed once per call for the whole
    batch (the official code and timm expand them to every image).

    Two paths compute the same function:

    - fused (``fused_attn=True``): ``(1 - s) * SDPA(q, k, v) + s *
      (positional scores @ v)``; the content attention goes through
      :func:`~mmvitplug.layers.attend` (the fused kernel) and no
      (B, heads, N, N) tensor is made. Both mixed distributions sum to one,
      so the renormalisation is exactly the identity (in value and
      gradient) and is skipped. Dropout on the attention weights
      (``attn_drop > 0`` in training) is drawn on the mixed weights, as the
      official code does, so it takes the explicit path.
    - explicit (``fused_attn=False``): the official computation, mixed
      weights (B, heads, N, N) materialised and renormalised.

    Token pruning (:func:`~mmvitplug.layers.keep_tokens`, DynamicViT):
    with a keep policy (training) both distributions are
    :func:`~mmvitplug.layers.softmax_with_policy` over the kept patches
    (explicit path); with kept indices (inference, tokens gathered away)
    the positional logits of the tokens present are gathered from the full
    grid's before their softmax. Either way a kept token attends as over
    the kept tokens alone, at their positions in the grid.

    Parameter names are the official ones (``qk``, ``v``, ``proj``,
    ``pos_proj``, ``gating_param``).

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of heads; must divide ``dim``.
            Defaults to 8.
        qkv_bias (bool): Bias in the ``qk`` and ``v`` projections.
            Defaults to False.
        attn_drop (float): Dropout on the mixed attention weights.
            Defaults to 0.
        proj_drop (float): Dropout after the output projection.
            Defaults to 0.
        locality_strength (float): Scale of the local initialisation of
            ``pos_proj`` (:meth:`local_init`). Defaults to 1.
        fused_attn (bool): Use the fused path. Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 qkv_bias: bool = False,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 locality_strength: float = 1.,
                 fused_attn: bool = True):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(
                f'dim ({dim}) must be divisible by num_heads ({num_heads})')
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.locality_strength = locality_strength
        self.fused_attn = fused_attn

        self.qk = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.pos_proj = nn.Linear(3, num_heads)
        self.proj_drop = nn.Dropout(proj_drop)
        self.gating_param = nn.Parameter(torch.ones(num_heads))

    @torch.no_grad()
    def local_init(self):
        """The official local initialisation: ``v`` is the identity and the
        positional attention of head ``(h1, h2)`` of a ``k x k`` grid of
        heads (``k = int(sqrt(num_heads))``) peaks at the offset
        ``(h2 - c, h1 - c)`` from the query (``c`` the grid centre), scaled
        by ``locality_strength``: ConViT starts as a convolution."""
        self.v.weight.copy_(torch.eye(self.dim))
        kernel_size = int(self.num_heads**.5)
        center = (kernel_size - 1) / 2 if kernel_size % 2 == 0 else \
            kernel_size // 2
        weight = self.pos_proj.weight
        for h1 in range(kernel_size):
            for h2 in range(kernel_size):
                position = h1 + kernel_size * h2
                weight[position, 2] = -1
                weight[position, 1] = 2 * (h1 - center)
                weight[position, 0] = 2 * (h2 - center)
        weight.mul_(self.locality_strength)

    def positional_logits(self, rel_indices: torch.Tensor,
                          num_tokens: int) -> torch.Tensor:
        """``pos_proj(r)`` (heads, N, N) from :func:`relative_indices` ``r``
        (3, N * N)."""
        logits = torch.addmm(self.pos_proj.bias[:, None],
                             self.pos_proj.weight, rel_indices)
        return logits.view(self.num_heads, num_tokens, num_tokens)

    def positional_scores(self, rel_indices: torch.Tensor,
                          num_tokens: int) -> torch.Tensor:
        """``softmax(pos_proj(r))`` (heads, N, N) from
        :func:`relative_indices` ``r`` (3, N * N)."""
        return self.positional_logits(rel_indices, num_tokens).softmax(-1)

    def _pruned_positional_scores(self, rel_indices, keep, policy, batch):
        """Positional scores under a token keep state: (B, heads, M, M) of
        the kept tokens (inference) or over the kept keys (training)."""
        logits = self.positional_logits(rel_indices, keep.num_patches)
        if keep.kept is not None:
            kept = keep.kept
            logits = logits[:, kept[:, :, None], kept[:, None, :]]
            return logits.transpose(0, 1).softmax(-1)
        return softmax_with_policy(
            logits.expand(batch, -1, -1, -1), policy)

    def forward(self,
                x: torch.Tensor,
                rel_indices: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Attend over patch tokens.

        Args:
            x (torch.Tensor): Patch tokens (B, N, C), row-major.
            rel_indices (torch.Tensor, optional): :func:`relative_indices`
                of the patch grid, (3, N * N). Defaults to None: those of a
                square grid (an error for other N).

        Returns:
            torch.Tensor: (B, N, C).
        """
        B, N, C = x.shape
        keep = active_keep()
        policy = key_policy(N)
        # the grid of the positions: the input's under a keep state
        grid = N if keep is None else keep.num_patches
        if rel_indices is None:
            rel_indices = relative_indices(_grid_of(grid), x.device, x.dtype)
        elif rel_indices.shape != (3, grid * grid):
            raise ValueError(
                f'rel_indices of shape {tuple(rel_indices.shape)} do not fit '
                f'{grid} tokens: expected (3, {grid * grid})')
        H, D = self.num_heads, self.head_dim
        if keep is None:
            pos = self.positional_scores(rel_indices.to(x.dtype), N)
        else:  # (B, H, N, N)
            pos = self._pruned_positional_scores(
                rel_indices.to(x.dtype), keep, policy, B)
        gate = torch.sigmoid(self.gating_param).view(H, 1, 1)
        q, k = self.qk(x).view(B, N, 2, H, D).permute(2, 0, 3, 1, 4)
        v = self.v(x)
        dropout = self.training and self.attn_drop.p > 0
        if self.fused_attn and not dropout and not recording_attention() \
                and policy is None:
            v_heads = v.view(B, N, H, D).transpose(1, 2)
            content = attend(q, k, v_heads, scale=self.scale)  # (B, H, N, D)
            if pos.dim() == 4:  # per image (kept tokens)
                positional = ((pos * gate) @ v_heads).transpose(1, 2)
            else:  # for the whole batch: (H, N, N) @ (H, N, B*D)
                v_heads = v.view(B, N, H, D).permute(2, 1, 0, 3).reshape(
                    H, N, B * D)
                positional = torch.bmm(pos * gate, v_heads).view(
                    H, N, B, D).permute(2, 1, 0, 3)
            out = content.permute(0, 2, 1, 3) * (1. - gate).view(H, 1) + \
                positional  # (B, N, H, D)
        else:
            logits = (q * self.scale) @ k.transpose(-2, -1)
            content = logits.softmax(-1) if policy is None else \
                softmax_with_policy(logits, policy)
            attn = (1. - gate) * content + gate * pos
            attn = attn / attn.sum(dim=-1, keepdim=True)
            record_weights(attn)
            attn = self.attn_drop(attn)
            out = (attn @ v.view(B, N, H, D).transpose(1, 2)).transpose(1, 2)
        return self.proj_drop(self.proj(out.reshape(B, N, C)))


class GPSABlock(Block):
    """Pre-norm block with gated positional self-attention (:class:`GPSA`).

    The shared :class:`~mmvitplug.layers.Block` (``norm1``, ``attn``,
    ``norm2``, ``mlp``, drop paths) with ``attn_layer=GPSA``; the forward
    passes the relative indices of the patch grid to the attention.
    """

    def __init__(self, dim: int, num_heads: int, locality_strength: float,
                 **kwargs):
        super().__init__(
            dim,
            num_heads,
            attn_layer=partial(GPSA, locality_strength=locality_strength),
            **kwargs)

    def forward(self,
                x: torch.Tensor,
                rel_indices: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Transform patch tokens (B, N, C); ``rel_indices`` as in
        :meth:`GPSA.forward`."""
        x = x + self.drop_path1(self.attn(self.norm1(x), rel_indices))
        x = x + self.drop_path2(self.mlp(self.norm2(x)))
        return x


@MODELS.register_module()
class ConViT(VisionBackbone):
    """ConViT backbone: a ViT whose first blocks use gated positional
    self-attention.

    `ConViT <https://arxiv.org/abs/2103.10697>`_ replaces the self-attention
    of the first ``local_up_to_layer`` blocks by :class:`GPSA`, gated
    positional self-attention initialised as a convolution
    (:meth:`GPSA.local_init`), and keeps plain multi-head self-attention in
    the remaining blocks. The GPSA blocks see the patch tokens only; the
    class token is concatenated right before block ``local_up_to_layer``.
    The position embedding (1, H * W, C) has no class-token entry; it is
    resized (``interpolate_mode``) to any input grid and when a checkpoint
    of another grid is loaded, and the relative indices of the GPSA blocks
    are made for any (H, W) (cached for the last grid). Parameter names are
    the official / timm ones (``patch_embed.proj``, ``cls_token``,
    ``pos_embed``, ``blocks.{i}.*``, ``norm``), so official checkpoints load
    after the key mapping of :func:`mmvitplug.converters.convert_convit`.

    ``out_indices`` index the blocks. Outputs of the last block go through
    the final norm. 'featmap', 'avg_featmap' and 'raw' are made of the patch
    tokens only (the class token, once it has joined, is dropped, as in
    timm's ``forward_intermediates``); 'cls_token' is the class token, so it
    needs out_indices of blocks at or after ``local_up_to_layer``, and a
    self-attention block after the GPSA blocks (``local_up_to_layer <
    num_layers``; a class token that attends to nothing would be a
    constant). The class token is built only when an output depends on it
    (``out_type='cls_token'``, or a last output index at or after
    ``local_up_to_layer``): otherwise it is unused (no parameter without
    gradient under DDP) and a checkpoint's ``cls_token`` is reported as
    unexpected.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels`` and ``local_up_to_layer`` (the number
            of GPSA blocks; the class token joins before that block), and
            optionally ``img_size``. Defaults to 'convit-small'.
        img_size (int | tuple[int, int], optional): Size the position
            embedding is made for. Defaults to the arch's (224).
        patch_size (int): Patch size. Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Blocks whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'cls_token' (B, C); 'featmap' (B, C, H/p, W/p);
            'avg_featmap' (B, C) mean of the patch tokens; or 'raw'
            (B, N, C) patch tokens. Defaults to 'cls_token'.
        final_norm (bool): Norm after the last block. Defaults to True.
        qkv_bias (bool): Bias in the q/k/v projections (official: none).
            Defaults to False.
        drop_rate (float): Dropout after the position embedding, the
            attention projections and in the MLPs. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth, ``drop_path_rate * i /
            (num_layers - 1)`` in block ``i`` as in the official code.
            Defaults to 0.
        locality_strength (float): Scale of the local initialisation of
            the positional attention (official ``--locality_strength``).
            Defaults to 1.
        use_local_init (bool): Initialise the GPSA blocks as convolutions
            (:meth:`GPSA.local_init`, the official default); otherwise they
            keep the truncated-normal initialisation. Defaults to True.
        use_pos_embed (bool): Add the absolute position embedding (official
            ``use_pos_embed``). Defaults to True.
        norm_cfg (dict): Norm config. Defaults to
            ``dict(type='LN', eps=1e-6)``.
        frozen_stages (int): -1 freezes nothing; 0 freezes the patch and
            position embeddings; k > 0 also the first k blocks, and the
            class token with the block it joins before (block
            ``local_up_to_layer``; the final norm when k == num_layers).
            Frozen parts stay in eval mode. Defaults to -1.
        interpolate_mode (str): Mode used to resize the position embedding
            to other input or checkpoint grids. Defaults to 'bicubic'.
        fused_attn (bool): Fused attention paths (:class:`GPSA` and the
            self-attention blocks). Defaults to True.
        with_cp (bool): Gradient checkpointing of the blocks in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug, official or timm ConViT checkpoints.
            Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        # embed_dims = 48 x num_heads (official models.py)
        f'convit-{name}': dict(
            embed_dims=48 * heads,
            num_layers=12,
            num_heads=heads,
            feedforward_channels=4 * 48 * heads,
            local_up_to_layer=10,
            img_size=224)
        for name, heads in (('tiny', 4), ('small', 9), ('base', 16))
    }
    arch_keys = ('embed_dims', 'num_layers', 'num_heads',
                 'feedforward_channels', 'local_up_to_layer')
    optional_arch_keys = ('img_size', )
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')
    # the class token joins before block local_up_to_layer
    parts = Parts(
        stem=('patch_embed', 'pos_embed', 'pos_drop'),
        stages='blocks',
        top=('norm', ),
        joins=(('cls_token', 'local_up_to_layer'), ))
    trunc_normal_params = ('pos_embed', 'cls_token')
    #: Leading non-grid entries of ``pos_embed`` (read by load_pretrained).
    num_pos_embed_extra_tokens = 0
    #: Tokens in front of the patches out of the stem (the class token
    #: joins later, before block ``local_up_to_layer``).
    num_extra_tokens = 0
    # GPSA reads the kept positions (keep_tokens)
    prunable_out_types = ('cls_token', )

    def __init__(self,
                 arch: Union[str, dict] = 'convit-small',
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 final_norm: bool = True,
                 qkv_bias: bool = False,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 locality_strength: float = 1.,
                 use_local_init: bool = True,
                 use_pos_embed: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 frozen_stages: int = -1,
                 interpolate_mode: str = 'bicubic',
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        self.embed_dims = dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        local = settings['local_up_to_layer']
        if not isinstance(local, int) or not 0 <= local <= self.num_layers:
            raise ValueError(
                'local_up_to_layer (the number of GPSA blocks) must be an '
                f'int in [0, num_layers={self.num_layers}], got {local!r}')
        self.local_up_to_layer = local
        if out_type == 'cls_token' and local == self.num_layers:
            raise ValueError(
                "out_type='cls_token' needs local_up_to_layer < num_layers="
                f'{self.num_layers}: the class token joins before block '
                'local_up_to_layer and gathers the image only in the '
                f'self-attention blocks after it; got {local}. Use one of '
                "['featmap', 'avg_featmap', 'raw'] for a GPSA-only trunk")
        if out_type == 'cls_token' and self.out_indices[0] < local:
            raise ValueError(
                f"out_type='cls_token' needs out_indices >= {local}: the "
                'class token joins before block local_up_to_layer='
                f'{local}; got out_indices {list(self.out_indices)}. Use one '
                "of ['featmap', 'avg_featmap', 'raw'] for earlier blocks")
        self.patch_size = patch_size
        if img_size is None:
            img_size = settings.get('img_size', 224)
        self.final_norm = final_norm
        self.interpolate_mode = interpolate_mode
        self.use_local_init = use_local_init
        self.use_pos_embed = use_pos_embed

        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels, dims)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.patch_embed.num_patches, dims)) \
            if use_pos_embed else None
        self.pos_drop = nn.Dropout(drop_rate)
        with_cls = out_type == 'cls_token' or self.out_indices[-1] >= local
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims)) \
            if with_cls else None

        dpr = drop_path_rates(drop_path_rate, self.num_layers, 'linear')
        common = dict(
            mlp_ratio=settings['feedforward_channels'] / dims,
            qkv_bias=qkv_bias,
            drop=drop_rate,
            attn_drop=attn_drop_rate,
            norm_layer=norm_factory(norm_cfg),
            fused_attn=fused_attn)
        self.blocks = nn.ModuleList([
            GPSABlock(
                dims,
                settings['num_heads'],
                locality_strength=locality_strength,
                drop_path=dpr[i],
                **common) if i < local else Block(
                    dims, settings['num_heads'], drop_path=dpr[i], **common)
            for i in range(self.num_layers)
        ])
        self.norm = norm_factory(norm_cfg)(dims) if final_norm else \
            nn.Identity()
        self._rel_cache: Dict[tuple, torch.Tensor] = {}

    def init_default_weights(self):
        """Truncated normal for the embeddings and linear layers, then the
        local initialisation of the GPSA blocks (``use_local_init``)."""
        super().init_default_weights()
        if self.use_local_init:
            for block in self.blocks[:self.local_up_to_layer]:
                block.attn.local_init()

    def relative_indices(self, hw: Tuple[int, int], device,
                         dtype) -> torch.Tensor:
        """:func:`relative_indices` of grid ``hw``, cached for the last
        grid / device / dtype."""
        key = (tuple(hw), device, dtype)
        rel = self._rel_cache.get(key)
        if rel is None:
            rel = relative_indices(hw, device, dtype)
            self._rel_cache = {key: rel}
        return rel

    def embed(self, x: torch.Tensor):
        """Patch tokens plus the position embedding; the context is the
        grid and its relative indices."""
        x, hw = self.patch_embed(x)
        if self.pos_embed is not None:
            x = x + resize_pos_embed(
                self.pos_embed,
                self.patch_embed.grid_size,
                hw,
                mode=self.interpolate_mode,
                num_extra_tokens=0)
        rel = self.relative_indices(hw, x.device, x.dtype) \
            if self.local_up_to_layer else None
        return self.pos_drop(x), (hw, rel)

    def _join(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x),
                         dim=1)

    def forward_stage(self, index: int, x: torch.Tensor, context):
        """Block ``index`` (the class token joins before block
        ``local_up_to_layer``)."""
        block = self.blocks[index]
        if index < self.local_up_to_layer:
            return self.run_layer(block, x, context[1]), context
        if index == self.local_up_to_layer:
            x = self._join(x)
        return self.run_layer(block, x), context

    def format_output(self, x: torch.Tensor, index: int, context):
        """Patch outputs or the class token; the final norm after the last
        block."""
        num_extra = 1 if index >= self.local_up_to_layer else 0
        if index == self.num_stages - 1:
            x = self.norm(x)
        if self.out_type == 'cls_token':
            return x[:, 0]
        if self.out_type == 'raw':
            return x[:, num_extra:]
        return format_tokens(x, self.out_type, context[0], num_extra)
