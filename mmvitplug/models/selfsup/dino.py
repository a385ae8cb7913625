# Copyright (c) mmvitplug contributors.
"""DINO: self-distillation with no labels."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS
from ..losses.utils import call_loss


class DINOBranch(nn.Module):
    """One network of DINO: backbone, optional neck, head.

    Maps a list of crops to head outputs the way the official
    ``MultiCropWrapper`` does: consecutive crops of the same size are
    concatenated and go through the backbone (and neck) together, the
    features of all crops then go through the head at once.
    """

    def __init__(self, backbone: nn.Module, neck: Optional[nn.Module],
                 head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, 3, H, W) -> one (N, C) feature per image."""
        feats = self.backbone(x)
        if self.neck is not None:
            feats = self.neck(feats)
        if isinstance(feats, (list, tuple)):
            feats = feats[-1]
        if not isinstance(feats, torch.Tensor) or feats.ndim != 2:
            got = (f'shape {tuple(feats.shape)}' if isinstance(
                feats, torch.Tensor) else type(feats).__name__)
            raise ValueError(
                'DINO needs one (N, C) vector per image from the backbone '
                f'(its last output) or the neck, got {got}: use '
                "out_type='cls_token' or 'avg_featmap' (and distilled=False)"
                " for an mmvitplug backbone, or a pooling neck such as "
                "dict(type='GlobalAveragePooling') after feature maps")
        return feats

    def forward(self, crops: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Crops (each (B, 3, H_i, W_i)) -> head outputs, one (B, K) per
        crop."""
        groups, start = [], 0
        for end in range(1, len(crops) + 1):
            if end == len(crops) or \
                    crops[end].shape[1:] != crops[start].shape[1:]:
                groups.append(torch.cat(list(crops[start:end])))
                start = end
        feats = torch.cat([self.features(g) for g in groups])
        return list(self.head(feats).chunk(len(crops)))


def _zero_dropout(module: nn.Module) -> None:
    """Set every dropout and stochastic-depth rate of ``module`` to 0 (the
    official teacher is built without them)."""
    for m in module.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.p = 0.
        elif 'DropPath' in type(m).__name__ and hasattr(m, 'drop_prob'):
            m.drop_prob = 0.


class _TeacherEMA(CosineEMA):
    """mmpretrain's :class:`CosineEMA`, updated at the start of the next
    training forward, with the momentum of the step that just ended.

    ``update_parameters`` call ``n`` (``n >= 1``, the start of iteration
    ``n``) applies the EMA for the optimizer step of iteration ``n - 1``:
    the new parameters get the weight
    ``m_new(n - 1) = end + (start - end) * (1 + cos(pi * (n - 1) / T)) / 2``
    with ``T = max_iters``, i.e. the teacher keeps ``1 - m_new``, the
    official ``momentum_schedule[n - 1]`` (call 0 copies the student).
    """

    def avg_func(self, averaged_param: torch.Tensor,
                 source_param: torch.Tensor, steps: int) -> None:
        super().avg_func(averaged_param, source_param, steps - 1)


@MODELS.register_module()
class DINO(BaseSelfSupervisor):
    """`DINO <https://arxiv.org/abs/2104.14294>`_ (Caron et al. 2021):
    self-distillation with no labels.

    A student (backbone, optional neck, :class:`~mmvitplug.models.heads.
    DINOHead`) and a teacher of the same architecture, the exponential
    moving average of the student (mmpretrain's :class:`CosineEMA`, never
    back-propagated). Each image comes as a list of crops (``inputs``, one
    (B, 3, H, W) batch per crop, e.g. from mmpretrain's ``MultiView``
    transform: the ``num_global_crops`` global crops first, then the local
    crops): the teacher sees the global crops only, the student all of
    them, crops of the same size batched together as the official
    ``MultiCropWrapper``. The loss (default :class:`~mmvitplug.models.
    losses.DINOLoss`: the maths, the centre and the teacher temperature live
    there) is called as ``loss(student_outputs=[...], teacher_outputs=
    [...])``.

    **Teacher.** Built as a deep copy of the student with every dropout and
    stochastic-depth rate set to 0 (the official teacher is built without
    drop path) and all ``requires_grad=False``. At the start of every
    training forward it is updated from the student as it stands after the
    previous optimizer step, which is the official order (update after
    step ``n - 1``, before the teacher forward of step ``n``); the first
    call copies the student (after ``init_weights``). The teacher keeps a
    fraction that rises from ``1 - momentum`` to ``1 - end_momentum`` with a
    cosine over ``max_iters`` iterations, using the momentum of the step
    that just ended: the official ``cosine_scheduler(0.996, 1)`` per
    iteration is ``momentum=0.004, end_momentum=0.``. ``momentum`` is
    mmpretrain's: the weight of the *new* parameters (0.996 would nearly
    replace the teacher by the student at every step). The final
    optimizer step's update, whose weight is ~0 at the end of the cosine,
    is not applied. Buffers (BatchNorm statistics) follow the student's,
    as in mmpretrain's BYOL / MoCo v3 teachers; the official teacher keeps
    its own (BatchNorm only in ResNet backbones or ``use_bn`` heads).

    The teacher's backbone, ``teacher.module.backbone`` in the state dict
    (:attr:`pretrained_backbone`), is the one the paper evaluates and
    ``tools/model_converters/export_backbone.py`` exports.

    Logged with the loss: ``teacher_entropy``, the mean entropy (nats) of
    the teacher's centred and sharpened distributions (0: one-hot
    collapse, ``log K``: uniform collapse), and ``prototypes_used``, the
    number of prototypes that are the arg-max of some global crop of the
    batch.

    Any backbone whose last output is one (B, C) vector per image works
    (``out_type='cls_token'`` / ``'avg_featmap'`` of mmvitplug backbones;
    feature maps through a pooling neck); the crops of different sizes
    need a backbone that takes any input size (position embeddings are
    resized by mmvitplug backbones).

    Args:
        backbone (dict): Backbone config, e.g. ``dict(type='mmvitplug.DeiT',
            arch='deit-small', drop_path_rate=0.1)`` (drop path applies to
            the student only).
        head (dict): Head config, e.g. ``dict(type='mmvitplug.DINOHead',
            in_channels=384, out_channels=65536)``.
        neck (dict, optional): Neck between backbone and head, e.g.
            ``dict(type='GlobalAveragePooling')`` for feature maps.
            Defaults to None.
        loss (dict | nn.Module): The loss. Defaults to
            ``dict(type='mmvitplug.DINOLoss', out_channels=...)`` with the
            head's ``out_channels``.
        momentum (float): Weight of the student in the teacher update at
            the first iteration (mmpretrain's convention). Defaults to
            0.004 (official teacher momentum 0.996).
        end_momentum (float): That weight at the end of training. Defaults
            to 0. (official 1).
        num_global_crops (int): Number of leading crops that are global:
            the teacher's inputs. Defaults to 2.
        pretrained (str, optional): Checkpoint of the whole model. Defaults
            to None.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    #: state-dict prefix of the backbone to export (the EMA teacher's)
    pretrained_backbone = 'teacher.module.backbone'

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Optional[dict] = None,
                 loss: Optional[Union[dict, nn.Module]] = None,
                 momentum: float = 0.004,
                 end_momentum: float = 0.,
                 num_global_crops: int = 2,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None):
        for name, value in (('momentum', momentum),
                            ('end_momentum', end_momentum)):
            if not 0. <= value <= 1.:
                raise ValueError(
                    f'{name} must be in [0, 1] (the weight of the student in '
                    'the teacher update: official teacher momentum 0.996 is '
                    f'momentum=0.004), got {value!r}')
        if momentum > 0.5:
            raise ValueError(
                f'momentum={momentum} would give the student more weight '
                'than the teacher at every update; it is the weight of the '
                'NEW parameters (mmpretrain CosineEMA): the official teacher '
                'momentum 0.996 is momentum=0.004')
        if not isinstance(num_global_crops, int) or num_global_crops < 1:
            raise ValueError('num_global_crops must be a positive int, got '
                             f'{num_global_crops!r}')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if loss is None:
            out_channels = getattr(self.head, 'out_channels', None)
            if out_channels is None:
                out_channels = self.head.last_layer.out_features
            loss = dict(type='mmvitplug.DINOLoss', out_channels=out_channels)
        if isinstance(loss, dict):
            loss = MMPRETRAIN_MODELS.build(loss)
        if not isinstance(loss, nn.Module):
            raise TypeError("model.loss must be a loss config (e.g. dict(type="
                            "'mmvitplug.DINOLoss', out_channels=...)) or "
                            f'module, got {type(loss).__name__}')
        self.loss_module = loss
        self.num_global_crops = num_global_crops
        self.teacher = _TeacherEMA(
            self._student(), momentum=momentum, end_momentum=end_momentum)
        _zero_dropout(self.teacher.module)

    def _student(self) -> DINOBranch:
        return DINOBranch(self.backbone, self.neck, self.head)

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[List[DataSample]] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """The DINO loss of a batch of multi-crop views.

        Args:
            inputs (list[Tensor]): One (B, 3, H, W) batch per crop, the
                global crops first.
            data_samples (list[DataSample], optional): Unused (no labels).

        Returns:
            dict[str, Tensor]: ``loss`` and the detached statistics
            ``teacher_entropy``, ``prototypes_used``.
        """
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(
                'DINO takes a list of crops (one (B, 3, H, W) batch per '
                'crop, e.g. from the MultiView transform), got '
                f'{type(inputs).__name__}')
        if len(inputs) <= self.num_global_crops:
            raise ValueError(
                f'DINO got {len(inputs)} crops, it needs more than '
                f'num_global_crops={self.num_global_crops} (the teacher '
                'sees the global crops, the student all crops; at least one '
                'student crop must differ from each teacher crop)')
        student = self._student()
        with torch.no_grad():
            self.teacher.update_parameters(student)
            teacher_outputs = self.teacher.module(
                inputs[:self.num_global_crops])
        student_outputs = student(inputs)
        with torch.no_grad():
            probs = self.loss_module.teacher_probs(torch.cat(teacher_outputs))
        losses = call_loss(
            'loss', self.loss_module,
            dict(student_outputs=student_outputs,
                 teacher_outputs=teacher_outputs))
        entropy = -(probs * probs.clamp_min(1e-30).log()).sum(-1).mean()
        losses['teacher_entropy'] = entropy
        losses['prototypes_used'] = probs.new_tensor(
            float(probs.argmax(-1).unique().numel()))
        return losses
