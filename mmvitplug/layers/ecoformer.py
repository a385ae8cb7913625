# Copyright (c) mmvitplug contributors.
"""EcoFormer: attention on kernelised binary hash codes, linear in tokens.

`Liu et al. 2022, "EcoFormer: Energy-Saving Attention with Linear
Complexity" <https://arxiv.org/abs/2209.09004>`_, official code
`ziplab/EcoFormer <https://github.com/ziplab/EcoFormer>`_
(``pvt/performer.py``: ``EcoformerFastAttention``,
``linear_attention_bias``; ``pvt/hashing/ksh.py``: ``KernelSH``;
``pvt/pvt_v2.py``: ``AttentionShareQK``).

Queries and keys are one projection (shared ``Q = K``), L2-normalised per
head, then hashed to ``b``-bit codes ``h in {-1, +1}^b`` by kernelised
supervised hashing (:class:`KernelSH`): a Gaussian kernel to ``m`` anchor
tokens (bandwidth: the mean squared distance to the anchors), minus the
mean kernel vector of the fitting batch, projected by ``A`` (heads x b x
m), then ``sign`` with a straight-through gradient (zero where the
projection is outside (-1, 1)). The hash functions are *fit*, not learned
by the task loss: on a batch, the similarity targets are +1 for each
token's ``topk`` most similar tokens and -1 for its ``topk`` least similar
(cosine), ``m`` random tokens of the first image become the anchors, and
each bit's row of ``A`` is optimised in turn by 100 steps of Nesterov SGD
on the sigmoid-relaxed KSH objective, kept if its sign codes do better
than the previous row, the targets then reduced by the bit's code
products (:meth:`KernelSH.fit`). Attention is then linear in the number of
tokens ``N`` (:func:`linear_attention_bias`), ``O(N b d)`` instead of
``O(N^2 d)``.

The attention follows the official code, not the paper's formula (see
:func:`linear_attention_bias`).
"""
import fnmatch
from typing import Dict, Sequence

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention

#: the official defaults (``pvt/configs/pvt_v2/*_ecoformer.py``, ``ksh.py``)
ECOFORMER_DEFAULTS = dict(
    nbits=16,
    num_anchors=25,
    topk=10,
    fit_iters=100,
    fit_lr=5e-4,
    fit_momentum=0.9)


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name} must be a positive int, got {value!r}')


def _check_positive_float(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value,
                                                 (int, float)) or value <= 0:
        raise ValueError(f'{name} must be a positive number, got {value!r}')


class BinaryQuantizer(torch.autograd.Function):
    """``sign(x)`` with the straight-through gradient of the official
    ``hashing/utils.py``: the incoming gradient where ``-1 < x < 1``, zero
    elsewhere. ``sign(0) = 0`` as :func:`torch.sign`."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        x, = ctx.saved_tensors
        return grad_output.masked_fill((x >= 1) | (x <= -1), 0.)


def square_dist(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``|x_n - y_m|^2``: (..., N, D) and
    (..., M, D) to (..., N, M), computed as ``|x_n|^2 + |y_m|^2 - 2 x_n .
    y_m`` (clamped at 0): memory (N, M), where the official
    ``hashing/utils.py`` broadcasts the differences, (N, M, D), which
    makes the hashing cost more than softmax attention at ViT sizes. The
    same function up to rounding."""
    d = (x * x).sum(-1, keepdim=True) + (y * y).sum(-1).unsqueeze(-2) \
        - 2 * x @ y.transpose(-2, -1)
    return d.clamp_min(0.)


def similarity_targets(x: torch.Tensor, topk: int) -> torch.Tensor:
    """KSH's pairwise targets from the tokens' inner products (official
    ``EcoformerFastAttention.forward``): +1 for the ``topk`` largest
    ``x_n . x_l`` of each row ``n``, -1 for its ``topk`` smallest (written
    last, so they win when the two sets overlap), 0 elsewhere.

    Args:
        x (torch.Tensor): L2-normalised tokens (B, H, N, D).
        topk (int): Tokens marked per row and sign; at most N.

    Returns:
        torch.Tensor: Targets (B, H, N, N).
    """
    sim = x @ x.transpose(-2, -1)
    targets = torch.zeros_like(sim)
    targets.scatter_(-1, sim.topk(topk, dim=-1).indices, 1.)
    targets.scatter_(-1, sim.topk(topk, dim=-1, largest=False).indices, -1.)
    return targets


def linear_attention_bias(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                          nbits: int) -> torch.Tensor:
    """EcoFormer's linear attention on hash codes, as the official
    ``linear_attention_bias`` computes it::

        out_n = (sum_m (q_n . k_m) v_m + (b + 1) v_n)
                / (sum_m q_n . k_m + N (b + 1))

    computed as ``q_n . (sum_m k_m v_m^T)`` and ``q_n . sum_m k_m``: linear
    in the number N of keys. With codes in {-1, +1}^b, ``q . k + b + 1 >=
    1``, so the denominator is positive. The paper's attention (Eq. 9 /
    10), ``sum_m (q_n . k_m + b + 1) v_m / sum_m (q_n . k_m + b + 1)``,
    has ``(b + 1) sum_m v_m`` in its numerator: the official code adds
    ``(b + 1) v_n`` instead (a self term), and so does this function. The
    sums and the division are in at least float32, outside autocast (as
    the official code); the output has ``v``'s dtype.

    Args:
        q (torch.Tensor): Query codes (B, H, N, b).
        k (torch.Tensor): Key codes (B, H, N, b).
        v (torch.Tensor): Values (B, H, N, E).
        nbits (int): The code length b of the bias ``b + 1``.

    Returns:
        torch.Tensor: (B, H, N, E).
    """
    bias = nbits + 1
    n = k.shape[-2]
    dtype = torch.promote_types(v.dtype, torch.float32)
    with torch.autocast(v.device.type, enabled=False):
        k_sum = k.sum(dim=-2).to(dtype)
        d_inv = 1. / (torch.einsum('...nd,...d->...n', q.to(dtype), k_sum) +
                      n * bias)
    context = torch.einsum('...nd,...ne->...de', k.to(v.dtype), v)
    with torch.autocast(v.device.type, enabled=False):
        out = torch.einsum('...de,...nd->...ne', context.to(dtype),
                           q.to(dtype)) + v.to(dtype) * bias
        out = torch.einsum('...ne,...n->...ne', out, d_inv)
    return out.to(v.dtype)


class KernelSH(nn.Module):
    """Kernel-based supervised hashing (KSH) of the tokens of each head
    (official ``hashing/ksh.py: KernelSH``, the ``train_hashing_weight_woeig``
    fit that EcoFormer calls).

    Buffers (in the state dict): ``A`` (H, b, m), normal init;
    ``mvec`` (1, H, 1, m), the mean kernel vector of the fitting batch;
    ``anchor`` (1, H, m, D).

    Codes of tokens x (B, H, N, D)::

        d = |x_n - anchor_j|^2,  sigma = mean_{n, j} d   (per image, head)
        k = exp(-d / (2 sigma)) - mvec
        h = sign(k A^T)       (straight-through, :class:`BinaryQuantizer`)

    The bandwidth is the input's own (as officially), ``A`` is detached.

    Args:
        num_heads (int): Heads H.
        head_dim (int): Channels D per head.
        nbits (int): Code length b. Defaults to 16.
        num_anchors (int): Anchors m. Defaults to 25.
        fit_iters (int): SGD steps per bit in :meth:`fit`. Defaults to 100.
        fit_lr (float): Their learning rate. Defaults to 5e-4.
        fit_momentum (float): Their Nesterov momentum. Defaults to 0.9.
    """

    def __init__(self,
                 num_heads: int,
                 head_dim: int,
                 nbits: int = 16,
                 num_anchors: int = 25,
                 fit_iters: int = 100,
                 fit_lr: float = 5e-4,
                 fit_momentum: float = 0.9):
        super().__init__()
        for name, value in (('num_heads', num_heads), ('head_dim', head_dim),
                            ('nbits', nbits), ('num_anchors', num_anchors),
                            ('fit_iters', fit_iters)):
            _check_positive_int(value, name)
        _check_positive_float(fit_lr, 'fit_lr')
        if isinstance(fit_momentum, bool) or not isinstance(
                fit_momentum, (int, float)) or not 0 < fit_momentum < 1:
            raise ValueError('fit_momentum must be in (0, 1) (Nesterov SGD '
                             f'needs a momentum), got {fit_momentum!r}')
        self.nbits = nbits
        self.num_anchors = num_anchors
        self.fit_iters = fit_iters
        self.fit_lr = fit_lr
        self.fit_momentum = fit_momentum
        self.register_buffer('A', torch.randn(num_heads, nbits, num_anchors))
        self.register_buffer('mvec', torch.zeros(1, num_heads, 1,
                                                 num_anchors))
        self.register_buffer('anchor',
                             torch.zeros(1, num_heads, num_anchors, head_dim))

    def extra_repr(self) -> str:
        return (f'nbits={self.nbits}, num_anchors={self.num_anchors}, '
                f'fit_iters={self.fit_iters}, fit_lr={self.fit_lr}')

    def _kernel(self, x: torch.Tensor) -> torch.Tensor:
        """The Gaussian kernel to the anchors (B, H, N, m), not centred."""
        d = square_dist(x, self.anchor)
        sigma = d.mean(-1).mean(-1)
        return torch.exp(-d / (2 * sigma[..., None, None]))

    def kernel(self, x: torch.Tensor) -> torch.Tensor:
        """The centred kernel features ``k`` (B, H, N, m) of tokens x."""
        return self._kernel(x) - self.mvec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (B, H, N, b) in {-1, +1} of tokens x (B, H, N, D)."""
        y = torch.einsum('bhnm,hkm->bhnk', self.kernel(x), self.A.detach())
        return BinaryQuantizer.apply(y)

    def _loss(self, y: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The KSH objective ``-mean_{B,H} y^T S y / (N b)`` (official
        ``compute_loss``)."""
        n = y.shape[-1]
        ys = -torch.einsum('...n,...nl->...l', y, targets) / (n * self.nbits)
        return torch.einsum('bhl,bhl->bh', ys, y).mean()

    def _optimise(self, k: torch.Tensor, targets: torch.Tensor,
                  a: torch.Tensor) -> torch.Tensor:
        """``fit_iters`` Nesterov SGD steps on one bit's row ``a`` (H, m),
        the sign relaxed to ``2 sigmoid(y) - 1`` (official
        ``optimization``)."""
        a = a.clone().requires_grad_()
        optimizer = torch.optim.SGD([a],
                                    lr=self.fit_lr,
                                    momentum=self.fit_momentum,
                                    nesterov=True)
        for _ in range(self.fit_iters):
            y = torch.einsum('bhnm,hm->bhn', k, a)
            y = 2 / (1 + torch.exp(-y)) - 1
            loss = self._loss(y, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return a.detach()

    def fit(self, x: torch.Tensor, anchor: torch.Tensor,
            targets: torch.Tensor) -> None:
        """Fit the hash functions to the targets on tokens x (official
        ``train_hashing_weight_woeig``), in float32 with gradients enabled
        (also under :func:`torch.no_grad`).

        Sets ``anchor`` and ``mvec`` (the batch's mean centred-kernel
        vector), then for each bit r in turn: starting from the current
        ``A[:, r]``, :meth:`_optimise` it; keep the result if the sign codes
        ``y = sign(k a)`` give a lower objective (one scalar over all heads
        and images) than the previous row's, else keep the previous row;
        subtract ``y y^T`` from the (b-scaled) targets for the next bits.

        Args:
            x (torch.Tensor): L2-normalised tokens (B, H, N, D).
            anchor (torch.Tensor): Anchors (1, H, m, D).
            targets (torch.Tensor): Targets (B, H, N, N) in {-1, 0, 1}
                (:func:`similarity_targets`).
        """
        with torch.no_grad():
            x = x.detach().float()
            self.anchor.copy_(anchor)
            k = self._kernel(x)
            self.mvec.copy_(k.mean(-2, keepdim=True).mean(0, keepdim=True))
            k = k - self.mvec
            targets = targets.detach().float() * self.nbits
        with torch.enable_grad(), torch.autocast(x.device.type,
                                                 enabled=False):
            for r in range(self.nbits):
                a = self.A[:, r, :].float()
                a_fit = self._optimise(k, targets, a)
                if not torch.isfinite(a_fit).all():
                    raise FloatingPointError(
                        f'KernelSH.fit: bit {r} diverged (non-finite '
                        f'weights); lower fit_lr (now {self.fit_lr})')
                with torch.no_grad():
                    y_prev = torch.where(
                        torch.einsum('bhnm,hm->bhn', k, a) > 0, 1., -1.)
                    y_fit = torch.where(
                        torch.einsum('bhnm,hm->bhn', k, a_fit) > 0, 1., -1.)
                    if self._loss(y_fit, targets) < self._loss(
                            y_prev, targets):
                        self.A[:, r, :] = a_fit
                        y = y_fit
                    else:
                        y = y_prev
                    targets = targets - torch.einsum('...n,...m->...nm', y, y)


class EcoFormerAttention(nn.Module):
    """Multi-head self-attention of `EcoFormer
    <https://arxiv.org/abs/2209.09004>`_: shared queries / keys hashed to
    binary codes, linear attention on the codes (official
    ``EcoformerSelfAttention`` / ``EcoformerFastAttention``).

    ``qk = normalize(to_qk(x))`` and ``v = to_v(x)`` per head, codes
    ``h = ksh(qk)`` (:class:`KernelSH`), ``out = proj(linear_attention_bias(
    h, h, v))``. While the buffer ``fitted`` is False (a new module, or
    after :meth:`request_fit`, e.g. by ``mmvitplug.EcoFormerHook`` every k
    epochs), the next forward first fits the hash functions on its own
    tokens, as the official code does on whatever batch comes first:
    :func:`similarity_targets` (``topk``), ``num_anchors`` random tokens of
    the first image (the global torch RNG) as anchors, then
    :meth:`KernelSH.fit`. Under ``torch.distributed`` the fitted buffers of
    rank 0 are then broadcast, so that every process hashes alike (the
    official code relies on DDP's buffer broadcast, which mmengine turns
    off). The module has no attention weights: ``attn_drop`` does not
    exist, and :func:`~mmvitplug.layers.record_attention` records nothing
    here. Its parameters are ``to_qk``, ``to_v`` and ``proj``: a
    state dict of :class:`~mmvitplug.layers.Attention` loads too, its
    ``qkv`` rows of q into ``to_qk`` and of v into ``to_v`` (k dropped), as
    the official fine-tuning from a softmax-attention checkpoint does.

    Args:
        dim (int): Token dimension.
        num_heads (int): Heads; must divide ``dim``. Defaults to 8.
        qkv_bias (bool): Biases of ``to_qk`` and ``to_v``. Defaults to True.
        proj_drop (float): Dropout after the output projection.
            Defaults to 0.
        nbits (int): Code length b. Defaults to 16.
        num_anchors (int): KSH anchors m; the tokens of a fitting batch
            must be at least as many. Defaults to 25.
        topk (int): Similar / dissimilar tokens per row of the fitting
            targets; at most the number of tokens. Defaults to 10.
        fit_iters (int): SGD steps per bit of a fit. Defaults to 100.
        fit_lr (float): Their learning rate. Defaults to 5e-4.
        fit_momentum (float): Their Nesterov momentum. Defaults to 0.9.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 proj_drop: float = 0.,
                 nbits: int = 16,
                 num_anchors: int = 25,
                 topk: int = 10,
                 fit_iters: int = 100,
                 fit_lr: float = 5e-4,
                 fit_momentum: float = 0.9):
        super().__init__()
        _check_positive_int(dim, 'dim')
        _check_positive_int(num_heads, 'num_heads')
        if dim % num_heads != 0:
            raise ValueError(
                f'dim ({dim}) must be divisible by num_heads ({num_heads})')
        _check_positive_int(topk, 'topk')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.topk = topk
        self.to_qk = nn.Linear(dim, dim, bias=qkv_bias)
        self.to_v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.ksh = KernelSH(num_heads, self.head_dim, nbits, num_anchors,
                            fit_iters, fit_lr, fit_momentum)
        self.register_buffer('fitted', torch.tensor(False))
        self._register_load_state_dict_pre_hook(self._attention_keys)

    @property
    def nbits(self) -> int:
        return self.ksh.nbits

    def _attention_keys(self, state_dict, prefix, *args) -> None:
        """Map an :class:`Attention` state dict's ``qkv`` (rows q, k, v)
        to ``to_qk`` (q) and ``to_v`` (v)."""
        for kind in ('weight', 'bias'):
            key = f'{prefix}qkv.{kind}'
            if key in state_dict and f'{prefix}to_qk.{kind}' not in \
                    state_dict:
                qkv = state_dict.pop(key)
                dim = qkv.shape[0] // 3
                state_dict[f'{prefix}to_qk.{kind}'] = qkv[:dim]
                state_dict[f'{prefix}to_v.{kind}'] = qkv[2 * dim:]

    def request_fit(self) -> None:
        """Fit the hash functions again on the next forward (the official
        ``set_retrain``)."""
        self.fitted.fill_(False)

    @torch.no_grad()
    def fit(self, qk: torch.Tensor) -> None:
        """Fit the hash functions on normalised tokens qk (B, H, N, D)."""
        n = qk.shape[2]
        if n < self.ksh.num_anchors or n < self.topk:
            raise ValueError(
                f'EcoFormer fits its hash functions on the tokens of a '
                f'batch: it needs num_anchors ({self.ksh.num_anchors}) and '
                f'topk ({self.topk}) at most the number of tokens, got '
                f'{n} tokens')
        qk = qk.float()
        targets = similarity_targets(qk, self.topk)
        perm = torch.randperm(n, device=qk.device)
        anchor = qk[:1, :, perm[:self.ksh.num_anchors]]
        self.ksh.fit(qk, anchor, targets)
        if dist.is_available() and dist.is_initialized():
            for buf in (self.ksh.A, self.ksh.mvec, self.ksh.anchor):
                dist.broadcast(buf, 0)
        self.fitted.fill_(True)

    def forward(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """Attend over tokens.

        Args:
            x (torch.Tensor): Tokens (B, N, C).
            mask: Must be None: linear attention takes no mask.

        Returns:
            torch.Tensor: (B, N, C).
        """
        if mask is not None:
            raise ValueError('EcoFormerAttention takes no attention mask '
                             '(its attention is never materialised)')
        B, N, C = x.shape
        qk = self.to_qk(x).reshape(B, N, self.num_heads,
                                   self.head_dim).transpose(1, 2)
        v = self.to_v(x).reshape(B, N, self.num_heads,
                                 self.head_dim).transpose(1, 2)
        x = self.attend(qk, v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))

    def attend(self, qk: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The token mixing of heads (official
        ``EcoformerFastAttention.forward``): normalise ``qk``, fit the hash
        functions if not ``fitted``, hash, :func:`linear_attention_bias`.

        Args:
            qk (torch.Tensor): Shared queries / keys (B, H, N, D).
            v (torch.Tensor): Values (B, H, N, E).

        Returns:
            torch.Tensor: (B, H, N, E).
        """
        qk = F.normalize(qk, dim=-1)
        if not self.fitted:
            self.fit(qk.detach())
        codes = self.ksh(qk)
        return linear_attention_bias(codes, codes, v, self.nbits)


def convert_to_ecoformer(model: nn.Module,
                         skip: Sequence[str] = (),
                         **kwargs) -> Dict[str, int]:
    """Replace, in place, every :class:`~mmvitplug.layers.Attention` of
    ``model`` (the class itself: subclasses with their own positional
    terms, e.g. LIT's relative-position attention, are left) whose name
    matches no pattern of ``skip`` by an :class:`EcoFormerAttention`
    initialised from it (``to_qk`` from the q rows of ``qkv``, ``to_v``
    from its v rows, ``proj`` copied, the same ``proj_drop``).

    Args:
        model (nn.Module): The model.
        skip (Sequence[str]): :mod:`fnmatch` patterns of module names
            (as ``named_modules`` gives them) to leave as softmax attention,
            e.g. ``('stages.3.*', )`` for a pyramid's last stage, which the
            official PVTv2 models keep. Defaults to ().
        **kwargs: :class:`EcoFormerAttention` arguments (``nbits``,
            ``num_anchors``, ``topk``, ``fit_iters``, ``fit_lr``,
            ``fit_momentum``).

    Returns:
        dict: ``{'converted': n, 'skipped': n}``.

    Raises:
        ValueError: No attention was converted, an unknown keyword, or an
            attention with attention dropout (EcoFormer has no attention
            weights to drop).
    """
    unknown = set(kwargs) - set(ECOFORMER_DEFAULTS)
    if unknown:
        raise ValueError(f'convert_to_ecoformer: unknown argument(s) '
                         f'{sorted(unknown)}; valid: '
                         f'{sorted(ECOFORMER_DEFAULTS)}')
    if isinstance(skip, str) or not all(isinstance(p, str) for p in skip):
        raise ValueError('skip must be a sequence of fnmatch patterns of '
                         f'module names, got {skip!r}')
    targets, skipped = [], 0
    for name, module in model.named_modules():
        if type(module) is not Attention:
            continue
        if any(fnmatch.fnmatchcase(name, p) for p in skip):
            skipped += 1
        else:
            targets.append((name, module))
    if not targets:
        raise ValueError(
            f'convert_to_ecoformer: {type(model).__name__} has no '
            'mmvitplug.layers.Attention to convert'
            + (f' outside skip={list(skip)}' if skipped else '') +
            ' (EcoFormer replaces the plain multi-head attention of plugin '
            'ViTs, e.g. DeiT, and of LIT\'s absolute-position archs)')
    for name, attn in targets:
        if attn.attn_drop.p > 0:
            raise ValueError(
                f'{name}: attention dropout {attn.attn_drop.p} has no '
                'counterpart in EcoFormer (no attention weights); set '
                'attn_drop_rate=0')
        dim = attn.qkv.in_features
        eco = EcoFormerAttention(
            dim,
            attn.num_heads,
            qkv_bias=attn.qkv.bias is not None,
            proj_drop=attn.proj_drop.p,
            **kwargs).to(attn.qkv.weight.device)
        eco.load_state_dict(attn.state_dict(), strict=False)
        parent_name, _, child = name.rpartition('.')
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, eco)
    return dict(converted=len(targets), skipped=skipped)


__all__ = [
    'BinaryQuantizer', 'square_dist', 'similarity_targets',
    'linear_attention_bias', 'KernelSH', 'EcoFormerAttention',
    'convert_to_ecoformer', 'ECOFORMER_DEFAULTS'
]
