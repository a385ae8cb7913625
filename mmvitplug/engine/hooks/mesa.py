# Copyright (c) mmvitplug contributors.
"""Switch a model to Mesa's 8-bit saved activations from a config."""
from typing import Optional

from mmengine.hooks import Hook
from mmpretrain.utils import get_ori_model

from mmvitplug.layers.mesa import check_policy, convert_to_mesa
from mmvitplug.registry import HOOKS


@HOOKS.register_module()
class MesaHook(Hook):
    """Train any model with `Mesa <https://arxiv.org/abs/2111.11124>`_:
    exact forward, 8-bit storage of the tensors saved for backward.

    One config line turns it on, e.g. the official DeiT-Ti policy::

        custom_hooks = [dict(type='mmvitplug.MesaHook', policy=dict(
            ops=('linear', 'matmul', 'softmax', 'gelu', 'layernorm'),
            num_groups=3))]

    In ``before_run`` the hook calls
    :func:`~mmvitplug.layers.convert_to_mesa` on the unwrapped model (see
    it for the policy keys). Why a hook, and why ``before_run``: the
    conversion swaps modules in place keeping every parameter and buffer
    object and every state-dict key (the quantiser buffers are
    non-persistent), so it is invisible to what the runner built before
    (the optimizer holds the same parameters, DDP's gradient hooks are on
    the same parameters), and ``before_run`` comes before what it must
    precede: weight initialisation (the Mesa modules are subclasses of the
    ``nn`` modules they replace, so ``init_cfg`` layer names and
    ``isinstance`` checks still match), ``load_or_resume`` (checkpoints
    with or without Mesa load either way) and the compilation of the train
    step. Converting the model itself (the whole classifier, head
    included, as the official DeiT-Mesa) needs no change to the backbones,
    so it works for every plugin ViT; attention layers using
    :class:`~mmvitplug.layers.Attention` get their softmax and products in
    8 bits too. Its priority is 'VERY_HIGH' so that hooks copying the model
    in ``before_run`` (e.g. an EMA) copy the converted one. Activation
    checkpointing (``with_cp``) recomputes the forward, which defeats Mesa
    and updates its running ranges twice a step: use one or the other.

    Args:
        policy (dict, optional): The Mesa policy (``ops``, ``num_groups``,
            ``ema_decay``, ``skip``), checked when the hook is built.
            Defaults to None: every op, one group.
    """

    priority = 'VERY_HIGH'

    def __init__(self, policy: Optional[dict] = None):
        self.policy = check_policy(policy)

    def before_run(self, runner) -> None:
        """Convert the model in place and log what was converted."""
        counts = convert_to_mesa(get_ori_model(runner.model), self.policy)
        runner.logger.info(
            'Mesa: 8-bit saved activations for ' +
            ', '.join(f'{n} {op}' for op, n in counts.items()) +
            f' (num_groups={self.policy["num_groups"]}, '
            f'ema_decay={self.policy["ema_decay"]})')
