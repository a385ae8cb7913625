# Copyright (c) mmvitplug contributors.
"""Dense relative localisation (DRLoc): position pairs, target offsets and
the ``l1`` / ``ce`` / ``cbr`` losses.

`Efficient Training of Visual Transformers with Small Datasets
<https://arxiv.org/abs/2106.03746>`_ (Liu et al., NeurIPS 2021) adds to the
supervised loss an auxiliary task on the final token map: for ``m`` random
pairs of positions per image, a small MLP predicts from the two token
embeddings how far apart the tokens are on the grid. The maths lives here
(sampling, targets, the three criteria); the MLP is
:class:`mmvitplug.models.heads.DRLocHead`, the classifier that feeds it the
backbone's token map :class:`mmvitplug.models.classifiers.DRLocClassifier`
and the weight schedule :class:`mmvitplug.engine.hooks.DRLocWeightHook`.

Positions are ``(row, col)`` pairs on an ``H x W`` grid; axis 0 is the row
(``H``), axis 1 the column (``W``), for square and non-square grids alike.
"""
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.registry import MODELS

DRLOC_MODES = ('l1', 'ce', 'cbr')
Predictions = Union[torch.Tensor, Sequence[torch.Tensor]]


def _check_grid(hw: Sequence[int]) -> Tuple[int, int]:
    if len(hw) != 2 or any(int(s) < 1 for s in hw):
        raise ValueError(f'grid size must be (H, W) >= 1, got {tuple(hw)}')
    h, w = int(hw[0]), int(hw[1])
    if h * w < 2:
        raise ValueError(
            f'DRLoc needs a token grid of at least 2 positions, got {h}x{w}: '
            'use a smaller patch size / stride or a larger input')
    return h, w


def sample_pairs(batch_size: int,
                 hw: Sequence[int],
                 num_pairs: int,
                 device: Union[str, torch.device, None] = None,
                 generator: torch.Generator = None
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Draw ``num_pairs`` pairs of grid positions per image, uniformly and
    independently (with replacement, as the official ``randn_sampling``).

    Rows are drawn in ``[0, H)`` and columns in ``[0, W)``: the official code
    draws both in ``[0, H)``, which is only right for square grids.

    Args:
        batch_size (int): Number of images B.
        hw (Sequence[int]): The grid (H, W).
        num_pairs (int): Pairs per image m.
        device (str | torch.device, optional): Device of the result.
            Defaults to the generator's device, else the CPU.
        generator (torch.Generator, optional): Random generator. Defaults
            to None: torch's default generator of the device, which
            mmengine's ``randomness.seed`` seeds (nothing is seeded here).

    Returns:
        tuple[Tensor, Tensor]: Positions ``(row, col)`` of the first and of
        the second token of each pair, long tensors (B, m, 2).
    """
    h, w = _check_grid(hw)
    if num_pairs < 1:
        raise ValueError(f'num_pairs must be >= 1, got {num_pairs}')
    where = generator.device if generator is not None else (device or 'cpu')
    size = (2, batch_size, num_pairs)
    rows = torch.randint(h, size, generator=generator, device=where)
    cols = torch.randint(w, size, generator=generator, device=where)
    pos = torch.stack([rows, cols], dim=-1)
    if device is not None:
        pos = pos.to(device)
    return pos[0], pos[1]


def gather_tokens(featmap: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """The embeddings at grid positions.

    Args:
        featmap (Tensor): Token map (B, C, H, W).
        pos (Tensor): Positions ``(row, col)`` (B, m, 2).

    Returns:
        Tensor: Embeddings (B, m, C).
    """
    b, c, h, w = featmap.shape
    index = (pos[..., 0] * w + pos[..., 1]).to(featmap.device)  # (B, m)
    tokens = featmap.flatten(2)  # (B, C, H*W)
    picked = tokens.gather(2, index.unsqueeze(1).expand(b, c, -1))
    return picked.transpose(1, 2)


def drloc_targets(pos_i: torch.Tensor,
                  pos_j: torch.Tensor,
                  hw: Sequence[int],
                  use_abs: bool = False) -> torch.Tensor:
    """Target offsets of position pairs, per axis.

    Signed (default): ``(p_i - p_j) + (size - 1)``, in
    ``[0, 2 * size - 2]`` (``size`` = H for rows, W for columns); absolute
    (``use_abs``): ``|p_i - p_j|``, in ``[0, size - 1]``.

    Args:
        pos_i (Tensor): First positions ``(row, col)`` (..., 2).
        pos_j (Tensor): Second positions (..., 2).
        hw (Sequence[int]): The grid (H, W).
        use_abs (bool): Absolute offsets. Defaults to False.

    Returns:
        Tensor: Long targets (..., 2), ``[..., 0]`` rows, ``[..., 1]``
        columns.
    """
    h, w = _check_grid(hw)
    delta = pos_i.long() - pos_j.long()
    if use_abs:
        return delta.abs()
    return delta + delta.new_tensor([h - 1, w - 1])


def num_bins(hw: Sequence[int], use_abs: bool = False) -> Tuple[int, int]:
    """Number of target values per axis: ``(2H - 1, 2W - 1)``, or ``(H, W)``
    with absolute offsets."""
    h, w = _check_grid(hw)
    return (h, w) if use_abs else (2 * h - 1, 2 * w - 1)


def variance_aware_regression(logits: torch.Tensor,
                              target: torch.Tensor,
                              var_weight: float = 1e-3,
                              eps: float = 1e-8) -> torch.Tensor:
    """Cycle-back regression with variance (one axis), as the official
    ``relative_constraint_cbr`` (after `TCC <https://arxiv.org/abs/
    1904.07846>`_): with ``beta = softmax(logits)`` over the bins ``k``,
    ``mu = sum_k beta_k k`` and ``var = sum_k beta_k (k - mu)^2 + eps``,
    the mean over pairs of ``(mu - t)^2 / var + var_weight * log(var)``.

    Args:
        logits (Tensor): Bin scores (N, K).
        target (Tensor): Target bins (N,).
        var_weight (float): Weight of ``log(var)``. Defaults to 1e-3
            (official).
        eps (float): Added to the variance. Defaults to 1e-8 (official).

    Returns:
        Tensor: The loss, a scalar.
    """
    beta = logits.float().softmax(dim=1)
    bins = torch.arange(logits.shape[1], device=logits.device,
                        dtype=beta.dtype)
    mu = (beta * bins).sum(dim=1)
    var = (beta * (bins - mu.unsqueeze(1))**2).sum(dim=1) + eps
    sq_err = (mu - target.to(beta.dtype))**2
    return (sq_err / var + var_weight * var.log()).mean()


@MODELS.register_module()
class DRLocLoss(nn.Module):
    r"""Dense relative localisation loss of `Liu et al. 2021
    <https://arxiv.org/abs/2106.03746>`_.

    Given the predictions of :class:`DRLocHead` for position pairs
    ``(p_i, p_j)`` on an ``H x W`` token grid, with targets
    :func:`drloc_targets` ``t`` per axis (rows, columns):

    - ``'l1'``: predictions (N, 2) regress ``t``; the loss is the mean
      absolute error over the pairs and both axes (``F.l1_loss``, as
      official). With ``normalize``, targets and predictions are in grid
      units divided by ``2 (size - 1)`` (signed) or ``size - 1``
      (absolute), per axis (official ``USE_NORMAL``, which divides both
      axes by H);
    - ``'ce'``: predictions are two score tensors (N, ``K_row``),
      (N, ``K_col``) over the bins of :func:`num_bins` (``2H - 1`` and
      ``2W - 1``: separate bins per axis, so non-square grids work); the
      loss is the cross-entropy of rows plus that of columns (official);
    - ``'cbr'``: the same scores, :func:`variance_aware_regression` of the
      rows plus that of the columns (official).

    The returned loss is ``loss_weight * weight_factor * criterion``:
    ``loss_weight`` is the paper's :math:`\lambda` (official
    ``--lambda_drloc``: 0.5 by default and for Swin in ``train.sh``, 0.1
    for T2T and CvT), ``weight_factor`` (1 unless set) is the schedule's
    factor in [0, 1] that :class:`mmvitplug.engine.hooks.DRLocWeightHook`
    sets each epoch (the official warm-up then linear decay).

    Args:
        mode (str): ``'l1'``, ``'ce'`` or ``'cbr'``. Defaults to 'l1'.
        use_abs (bool): Predict absolute offsets ``|p_i - p_j|`` instead of
            the signed ones shifted by ``size - 1``. The official default
            is False, but its ``train.sh`` passes ``--use_abs``.
            Defaults to False.
        normalize (bool): ``'l1'`` only: targets divided by their range
            (above). Defaults to False (official default).
        loss_weight (float): :math:`\lambda`. Defaults to 0.5.
        cbr_var_weight (float): ``'cbr'`` only: weight of the log-variance
            term. Defaults to 1e-3 (official).
    """

    def __init__(self,
                 mode: str = 'l1',
                 use_abs: bool = False,
                 normalize: bool = False,
                 loss_weight: float = 0.5,
                 cbr_var_weight: float = 1e-3):
        super().__init__()
        if mode not in DRLOC_MODES:
            raise ValueError(f'Unknown DRLoc mode {mode!r}; choose from '
                             f'{list(DRLOC_MODES)}')
        if normalize and mode != 'l1':
            raise ValueError(
                f"normalize=True is only for mode='l1' (the {mode!r} targets "
                'are bin indices); remove it')
        if loss_weight < 0:
            raise ValueError(f'loss_weight must be >= 0, got {loss_weight}')
        self.mode = mode
        self.use_abs = use_abs
        self.normalize = normalize
        self.loss_weight = float(loss_weight)
        self.cbr_var_weight = float(cbr_var_weight)
        #: Factor of the weight schedule, set by DRLocWeightHook.
        self.weight_factor = 1.0

    @property
    def weight(self) -> float:
        """The weight in effect: ``loss_weight * weight_factor``."""
        return self.loss_weight * self.weight_factor

    def num_outputs(self, hw: Sequence[int]) -> Tuple[int, ...]:
        """What the head predicts per pair: ``(2,)`` for ``'l1'``, the bins
        per axis ``(K_row, K_col)`` otherwise."""
        if self.mode == 'l1':
            return (2, )
        return num_bins(hw, self.use_abs)

    def targets(self, pos_i: torch.Tensor, pos_j: torch.Tensor,
                hw: Sequence[int]) -> torch.Tensor:
        """Targets of the pairs (..., 2): long bin indices, or for
        ``'l1'`` float offsets (normalised with ``normalize``)."""
        t = drloc_targets(pos_i, pos_j, hw, self.use_abs)
        if self.mode != 'l1':
            return t
        t = t.float()
        if self.normalize:
            h, w = hw
            scale = t.new_tensor([h - 1, w - 1]).clamp(min=1)
            t = t / (scale if self.use_abs else 2 * scale)
        return t

    def criterion(self, pred: Predictions, target: torch.Tensor
                  ) -> torch.Tensor:
        """The unweighted loss of predictions against :meth:`targets`.

        Args:
            pred (Tensor | Sequence[Tensor]): ``'l1'``: (..., 2);
                otherwise the row and column scores (..., K_row),
                (..., K_col).
            target (Tensor): Targets (..., 2), the same pairs.

        Returns:
            Tensor: The loss, a scalar.
        """
        target = target.reshape(-1, 2)
        if self.mode == 'l1':
            if not torch.is_tensor(pred) or pred.shape[-1] != 2:
                raise ValueError("mode 'l1' needs predictions (N, 2)")
            return F.l1_loss(pred.reshape(-1, 2).float(), target)
        if torch.is_tensor(pred) or len(pred) != 2:
            raise ValueError(f'mode {self.mode!r} needs two score tensors '
                             '(rows, columns)')
        pred = [p.reshape(-1, p.shape[-1]) for p in pred]
        if self.mode == 'ce':
            return sum(
                F.cross_entropy(p.float(), target[:, a])
                for a, p in enumerate(pred))
        return sum(
            variance_aware_regression(p, target[:, a], self.cbr_var_weight)
            for a, p in enumerate(pred))

    def forward(self, pred: Predictions, pos_i: torch.Tensor,
                pos_j: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
        """The weighted DRLoc loss.

        Args:
            pred (Tensor | Sequence[Tensor]): The head's predictions for the
                N pairs (see :meth:`criterion`).
            pos_i (Tensor): First positions (N, 2) or (B, m, 2).
            pos_j (Tensor): Second positions, same shape.
            hw (Sequence[int]): The grid (H, W).

        Returns:
            Tensor: ``weight * criterion``.
        """
        target = self.targets(pos_i, pos_j, hw)
        if torch.is_tensor(pred):
            target = target.to(pred.device)
        else:
            target = target.to(pred[0].device)
        return self.weight * self.criterion(pred, target)

    def extra_repr(self) -> str:
        return (f'mode={self.mode!r}, use_abs={self.use_abs}, '
                f'normalize={self.normalize}, '
                f'loss_weight={self.loss_weight}')
