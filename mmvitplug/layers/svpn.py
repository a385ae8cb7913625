# Copyright (c) mmvitplug contributors.
"""Cross-covariance pooling and singular-value power normalisation (svPN).

The second-order primitives of `SoT <https://arxiv.org/abs/2104.10935>`_
(official ``sot_src/representation/covariance.py`` and
``sot_src/normalization/svPN.py``), pure torch.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def cross_covariance(q: torch.Tensor,
                     k: torch.Tensor,
                     remove_mean: bool = True) -> torch.Tensor:
    """``Q^T K / N`` of two token sets (B, N, d1), (B, N, d2): (B, d1, d2).

    With ``remove_mean`` each of ``Q`` and ``K`` first loses its mean over
    *all* its entries (one scalar per batch item, over tokens and channels),
    as the official ``Covariance._remove_mean`` does (an
    ``adaptive_avg_pool2d`` of the (B, d, N) tensor), not a per-channel mean.
    """
    if q.dim() != 3 or k.dim() != 3 or q.shape[:2] != k.shape[:2]:
        raise ValueError('cross_covariance needs q (B, N, d1) and k (B, N, '
                         f'd2) with the same B and N; got q {tuple(q.shape)} '
                         f'and k {tuple(k.shape)}')
    if remove_mean:
        q = q - q.mean(dim=(1, 2), keepdim=True)
        k = k - k.mean(dim=(1, 2), keepdim=True)
    return q.transpose(1, 2).bmm(k) / q.shape[1]


def power_iteration(
        x: torch.Tensor, v: torch.Tensor,
        iter_num: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top singular triplet of ``x`` (B, N, d) by ``iter_num`` power
    iterations from ``v`` (B, d, 1): ``u = normalize(x v)``,
    ``v = normalize(x^T u)``, ``s = u^T x v``. Returns u (B, N, 1),
    s (B, 1, 1), v (B, d, 1)."""
    for _ in range(iter_num):
        u = F.normalize(x.bmm(v), dim=1)
        v = F.normalize(x.transpose(1, 2).bmm(u), dim=1)
    s = u.transpose(1, 2).bmm(x).bmm(v)
    return u, s, v


def svpn(x: torch.Tensor,
         alpha: float = 0.5,
         iter_num: int = 1,
         sv_num: Optional[int] = 1,
         init: Optional[torch.Tensor] = None,
         eps: float = 1e-5) -> torch.Tensor:
    """Singular-value power normalisation of matrices ``x`` (B, N, d).

    For ``i = 1 .. sv_num`` the top singular triplet ``(u_i, s_i, v_i)`` of
    the deflated matrix is estimated by :func:`power_iteration` (each from
    the same start vector ``init``) and removed from it; the result is
    ``sum_i s_i^alpha u_i v_i^T + R / (s_k^(1 - alpha) + eps)`` with ``R``
    the remainder after ``k = sv_num`` deflations, i.e. the top singular
    values are raised to ``alpha`` and the rest is divided by
    ``s_k^(1 - alpha)``. ``sv_num=None`` deflates all ``min(N, d)``
    singular values and adds no remainder. This is exactly the official
    ``svPN._singularValuePowerNorm``; with ``iter_num`` large enough the
    triplets are the exact SVD's.

    Args:
        x (torch.Tensor): (B, N, d).
        alpha (float): Power of the singular values. Defaults to 0.5.
        iter_num (int): Power iterations per singular value (>= 1).
            Defaults to 1.
        sv_num (int, optional): Singular values normalised by power, in
            ``[1, min(N, d)]``, or None (all, no remainder). Defaults to 1.
        init (torch.Tensor, optional): Start vector (d, ), shared by the
            batch (the official learnable ``weight``); None: all ones.
        eps (float): Added to ``s_k^(1 - alpha)``. Defaults to 1e-5.

    Returns:
        torch.Tensor: (B, N, d).
    """
    if x.dim() != 3:
        raise ValueError(f'svpn needs x (B, N, d); got {tuple(x.shape)}')
    B, N, d = x.shape
    if not isinstance(iter_num, int) or iter_num < 1:
        raise ValueError(f'iter_num={iter_num!r} must be an int >= 1')
    if sv_num is not None and (not isinstance(sv_num, int)
                               or not 1 <= sv_num <= min(N, d)):
        raise ValueError(f'sv_num={sv_num!r} must be None or an int in '
                         f'[1, min(N, d) = {min(N, d)}]')
    if init is None:
        v0 = x.new_ones(B, d, 1)
    else:
        if init.numel() != d:
            raise ValueError(f'init has {init.numel()} entries; x has d={d}')
        v0 = init.to(x.dtype).reshape(1, d, 1).expand(B, d, 1)
    top = min(N, d) if sv_num is None else sv_num
    y = torch.zeros_like(x)
    for _ in range(top):
        u, s, v = power_iteration(x, v0, iter_num)
        y = y + u.bmm(s.pow(alpha)).bmm(v.transpose(1, 2))
        x = x - u.bmm(s).bmm(v.transpose(1, 2))
    if sv_num is not None:
        y = y + x / (s.pow(1 - alpha) + eps)
    return y


class SVPN(nn.Module):
    """:func:`svpn` with the start vector of the power iteration.

    Args:
        dim (int): Columns d of the normalised matrices (the official
            ``input_dim``).
        alpha (float): Power of the singular values. Defaults to 0.5.
        iter_num (int): Power iterations per singular value. Defaults to 1.
        sv_num (int, optional): See :func:`svpn`. Defaults to 1.
        init_weight (str): 'learn': a learnable start vector ``weight``
            (d, ) drawn from N(0, 1), the official default; 'one': all ones,
            fixed. Defaults to 'learn'.
    """
    init_weights = ('learn', 'one')

    def __init__(self,
                 dim: int,
                 alpha: float = 0.5,
                 iter_num: int = 1,
                 sv_num: Optional[int] = 1,
                 init_weight: str = 'learn'):
        super().__init__()
        if init_weight not in self.init_weights:
            raise ValueError(f'init_weight={init_weight!r}: choose from '
                             f'{list(self.init_weights)}')
        if not isinstance(iter_num, int) or iter_num < 1:
            raise ValueError(f'iter_num={iter_num!r} must be an int >= 1')
        if sv_num is not None and (not isinstance(sv_num, int)
                                   or sv_num < 1):
            raise ValueError(
                f'sv_num={sv_num!r} must be None or an int >= 1')
        self.dim = dim
        self.alpha = alpha
        self.iter_num = iter_num
        self.sv_num = sv_num
        self.init_weight = init_weight
        if init_weight == 'learn':
            self.weight = nn.Parameter(torch.randn(dim))
        else:
            self.register_parameter('weight', None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return svpn(x, self.alpha, self.iter_num, self.sv_num, self.weight)

    def extra_repr(self) -> str:
        return (f'dim={self.dim}, alpha={self.alpha}, '
                f'iter_num={self.iter_num}, sv_num={self.sv_num}, '
                f'init_weight={self.init_weight!r}')
