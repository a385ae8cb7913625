# Copyright (c) mmvitplug contributors.
"""Several classifiers trained together, teaching each other."""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS
from ..losses.utils import get_targets
from .distiller import build_distiller


@MODELS.register_module()
class MutualClassifier(BaseModel):
    """Classifiers trained together from scratch, each a student of the
    others: mutual learning, co-training.

    The algorithm of methods without a frozen teacher whose networks learn
    from each other, e.g. `Bootstrapping ViTs
    <https://arxiv.org/abs/2112.03552>`_ (a ViT and its agent CNN, KD both
    ways) or `Divide and Co-training <https://arxiv.org/abs/2011.14660>`_
    (S narrow networks, a co-training term, ensemble inference). Each
    student is a classifier (``ImageClassifier`` by default) in
    ``self.students``; the :class:`ConfigurableDistiller` records their
    modules as ``'students.<name>....'`` and computes every loss term, the
    label terms included (the students' heads must not have a loss of their
    own). All students are trained and saved.

    In :meth:`loss`, every student sees the same preprocessed (and mixed)
    batch, or, when the batch is a list of views (``MultiView`` and
    :class:`mmvitplug.MultiViewClsDataPreprocessor`, which mixes all views
    with one draw), student ``i`` sees view ``i`` in the order of
    ``students``. Prediction uses one student or the ensemble.

    Args:
        students (dict[str, dict]): Student classifiers by name, e.g.
            ``dict(vit=dict(backbone=..., head=...), cnn=dict(...))``;
            ``type`` defaults to ``'ImageClassifier'``.
        distiller (dict): Config of the :class:`ConfigurableDistiller`;
            ``type`` defaults to ``'mmvitplug.ConfigurableDistiller'``.
        predict_with (str): ``'ensemble'`` (all students) or a student's
            name. Defaults to 'ensemble'.
        ensemble (str): How the ensemble combines the students: ``'logits'``
            (their mean logits) or ``'probs'`` (the log of their mean
            softmax). Defaults to 'logits'.
        share_weights (dict[str, str], optional): ``{user: owner}``: the
            backbone of student ``user`` computes with weights of student
            ``owner``'s backbone, bound once here by
            ``students[user].backbone.share_weights_with(
            students[owner].backbone)`` (e.g. Bootstrapping ViTs' shared
            agent CNN, ``dict(cnn='vit')``, whose convolutions are made of
            the ViT's attention weights); the shared weights are the
            owner's parameters, trained and saved once. Defaults to None.
        data_preprocessor (dict, optional): The shared data preprocessor;
            ``type`` defaults to ``'ClsDataPreprocessor'``. Defaults to None.
        init_cfg (dict, optional): Initialisation. Defaults to None.
    """

    ENSEMBLES = ('logits', 'probs')

    def __init__(self,
                 students: Dict[str, dict],
                 distiller: dict,
                 predict_with: str = 'ensemble',
                 ensemble: str = 'logits',
                 share_weights: Optional[Dict[str, str]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = {}
        if isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor)
            data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
            data_preprocessor = MMPRETRAIN_MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(students, (dict, nn.ModuleDict)) or len(
                students) < 2:
            got = (sorted(students) if isinstance(
                students, (dict, nn.ModuleDict)) else type(students).__name__)
            raise ValueError('model.students must name at least two '
                             f'classifiers, got {got}')
        built = {}
        for name, cfg in students.items():
            if isinstance(cfg, dict):
                head = cfg.get('head') or {}
                if 'loss' in head:
                    raise ValueError(
                        f'model.students.{name}.head.loss is not used by '
                        'MutualClassifier: every loss term is in '
                        'model.distiller.losses; remove it')
                cfg = dict(cfg)
                cfg.setdefault('type', 'ImageClassifier')
                cfg = MMPRETRAIN_MODELS.build(cfg)
            built[name] = cfg
        self.students = nn.ModuleDict(built)
        if predict_with != 'ensemble' and predict_with not in self.students:
            raise ValueError(
                f'Unknown predict_with {predict_with!r}; choose from '
                f"'ensemble', {', '.join(map(repr, self.students))}")
        if ensemble not in self.ENSEMBLES:
            raise ValueError(f'Unknown ensemble {ensemble!r}; choose from '
                             f'{", ".join(map(repr, self.ENSEMBLES))}')
        self.predict_with = predict_with
        self.ensemble = ensemble
        self._share_weights(share_weights or {})
        self.distiller = build_distiller(distiller)
        self.distiller.prepare({'': self})

    def _share_weights(self, share_weights: Dict[str, str]):
        """Bind each ``user`` student's backbone to its ``owner``'s."""
        if not isinstance(share_weights, dict):
            raise TypeError('model.share_weights must be a dict {user: '
                            f'owner}}, got {share_weights!r}')
        names = ', '.join(map(repr, self.students))
        for user, owner in share_weights.items():
            for name in (user, owner):
                if name not in self.students:
                    raise ValueError(
                        f'model.share_weights names the student {name!r}; '
                        f'the students are {names}')
            if user == owner:
                raise ValueError(f'model.share_weights: student {user!r} '
                                 'cannot share the weights of itself')
            backbone = getattr(self.students[user], 'backbone', None)
            if not hasattr(backbone, 'share_weights_with'):
                raise TypeError(
                    f'model.share_weights: the backbone of student {user!r} '
                    f'({type(backbone).__name__}) cannot compute with '
                    "another network's weights (no share_weights_with), "
                    "e.g. use dict(type='mmvitplug.AgentCNN', shared=True)")
            backbone.share_weights_with(self.students[owner].backbone)

    def _split(self, inputs) -> List[torch.Tensor]:
        """The batch each student sees."""
        if isinstance(inputs, torch.Tensor):
            return [inputs] * len(self.students)
        if len(inputs) != len(self.students):
            raise ValueError(
                f'got {len(inputs)} views of each image for '
                f'{len(self.students)} students; give one view per student '
                f'(MultiView num_views={len(self.students)}) or one batch')
        return list(inputs)

    def forward(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: the logits of every student, by name; ``'loss'``
        and ``'predict'`` as in mmpretrain's classifiers."""
        if mode == 'tensor':
            return {
                name: student(x, mode='tensor')
                for (name, student), x in zip(self.students.items(),
                                              self._split(inputs))
            }
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode {mode!r}; choose from '
                           "'tensor', 'loss', 'predict'")

    def loss(self, inputs, data_samples: List[DataSample]) -> dict:
        """Run every student on its batch and compute the distiller's
        losses."""
        with self.distiller.recording():
            self(inputs, mode='tensor')
            return self.distiller.compute_losses(get_targets(data_samples))

    def predict_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """The logits used for prediction (one student's or the
        ensemble's)."""
        if self.predict_with != 'ensemble':
            return self.students[self.predict_with](inputs, mode='tensor')
        logits = torch.stack(
            [s(inputs, mode='tensor') for s in self.students.values()])
        if self.ensemble == 'logits':
            return logits.mean(0)
        return logits.softmax(-1).mean(0).log()

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Predictions of :meth:`predict_logits`, as an mmpretrain
        classifier's."""
        head = next(iter(self.students.values())).head
        return head._get_predictions(self.predict_logits(inputs),
                                     data_samples)
