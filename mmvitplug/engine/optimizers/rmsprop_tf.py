# Copyright (c) mmvitplug contributors.
"""RMSprop as TensorFlow computes it, for the recipes that train with
timm's ``--opt rmsproptf`` (EfficientNet-style schedules: GhostNetV2)."""
from typing import Callable, Iterable, Optional, Union

import torch
from torch.optim import Optimizer

from mmvitplug.registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class RMSpropTF(Optimizer):
    """RMSprop with TensorFlow's conventions (timm's ``rmsproptf``).

    For each parameter ``p`` with gradient ``g`` (plus ``weight_decay * p``
    unless the decay is decoupled), every step computes::

        v <- v + (1 - alpha) * (g ** 2 - v)   # v starts at ONE, not zero
        d <- g / sqrt(v + eps)                # eps INSIDE the square root
        p <- p - b,  b <- momentum * b + lr * d   # lr_in_momentum (default)
        p <- p - lr * b,  b <- momentum * b + d   # lr_in_momentum=False
        p <- p - lr * d                           # momentum = 0

    It differs from ``torch.optim.RMSprop`` in three places, all as
    TensorFlow's ``RMSPropOptimizer``: the squared-gradient average starts
    at one (a small first update), ``eps`` is added before the square root
    (``eps=1e-3`` bounds the step by ``lr / sqrt(1e-3)``), and the learning
    rate enters the momentum buffer, so a changed learning rate acts on new
    gradients only, not on the accumulated velocity. ``centered`` divides by
    ``sqrt(v - m ** 2 + eps)`` with ``m`` the running mean of the gradients
    (same ``alpha``). ``decoupled_decay`` multiplies the parameter by
    ``1 - lr * weight_decay`` before the step instead of adding the decay
    to the gradient (AdamW-style).

    Registered in the ``mmvitplug`` scope: use it from any config as
    ``optim_wrapper=dict(optimizer=dict(type='mmvitplug.RMSpropTF', ...))``;
    per-group weight decay and learning rates of mmengine's optimizer
    wrapper constructors apply as for any torch optimizer.

    Args:
        params (iterable): Parameters or parameter groups.
        lr (float): Learning rate. Defaults to 1e-2.
        alpha (float): Decay of the squared-gradient average, in [0, 1].
            Defaults to 0.9 (timm's ``rmsproptf`` always uses 0.9).
        eps (float): Added to the average under the square root.
            Defaults to 1e-10.
        weight_decay (float): L2 penalty. Defaults to 0.
        momentum (float): Momentum factor. Defaults to 0.
        centered (bool): Normalise by the gradient's variance estimate
            instead of its second moment. Defaults to False.
        decoupled_decay (bool): Decoupled weight decay. Defaults to False.
        lr_in_momentum (bool): Accumulate ``lr * d`` in the momentum buffer
            (TensorFlow) rather than scaling the buffer by ``lr`` (PyTorch).
            Defaults to True.
    """

    def __init__(self,
                 params: Union[Iterable[torch.Tensor], Iterable[dict]],
                 lr: float = 1e-2,
                 alpha: float = 0.9,
                 eps: float = 1e-10,
                 weight_decay: float = 0.,
                 momentum: float = 0.,
                 centered: bool = False,
                 decoupled_decay: bool = False,
                 lr_in_momentum: bool = True):
        for name, value in (('lr', lr), ('eps', eps),
                            ('weight_decay', weight_decay),
                            ('momentum', momentum)):
            if not value >= 0.:
                raise ValueError(f'Invalid {name}: {value} (must be >= 0)')
        if not 0. <= alpha <= 1.:
            raise ValueError(f'Invalid alpha: {alpha} (must be in [0, 1])')
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            decoupled_decay=decoupled_decay,
            lr_in_momentum=lr_in_momentum)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Optional[Callable] = None):
        """Update every parameter that has a gradient.

        Args:
            closure (callable, optional): Re-evaluates the model and returns
                the loss.

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group['params']:
                if param.grad is not None:
                    self._update(param, group)
        return loss

    def _update(self, param: torch.Tensor, group: dict) -> None:
        grad = param.grad
        if grad.is_sparse:
            raise RuntimeError('RMSpropTF does not support sparse gradients')
        lr, alpha, eps = group['lr'], group['alpha'], group['eps']
        weight_decay, momentum = group['weight_decay'], group['momentum']
        state = self.state[param]
        if not state:
            state['step'] = 0
            state['square_avg'] = torch.ones_like(
                param, memory_format=torch.preserve_format)
        state['step'] += 1

        if weight_decay:
            if group['decoupled_decay']:
                param.mul_(1. - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)

        # v += (1 - alpha) (g^2 - v): TensorFlow's order of operations
        square_avg = state['square_avg']
        square_avg.add_(grad * grad - square_avg, alpha=1. - alpha)
        if group['centered']:
            grad_avg = state.get('grad_avg')
            if grad_avg is None:
                grad_avg = state['grad_avg'] = torch.zeros_like(
                    param, memory_format=torch.preserve_format)
            grad_avg.add_(grad - grad_avg, alpha=1. - alpha)
            denom = square_avg.addcmul(grad_avg, grad_avg, value=-1.)
        else:
            denom = square_avg.clone()
        denom.add_(eps).sqrt_()

        if momentum > 0:
            buf = state.get('momentum_buffer')
            if buf is None:
                buf = state['momentum_buffer'] = torch.zeros_like(
                    param, memory_format=torch.preserve_format)
            buf.mul_(momentum)
            if group['lr_in_momentum']:
                buf.addcdiv_(grad, denom, value=lr)
                param.sub_(buf)
            else:
                buf.addcdiv_(grad, denom)
                param.add_(buf, alpha=-lr)
        else:
            param.addcdiv_(grad, denom, value=-lr)
