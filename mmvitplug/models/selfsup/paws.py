# Copyright (c) mmvitplug contributors.
"""PAWS: semi-supervised learning by predicting view assignments with
support samples."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_gather, get_world_size
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.models.utils.data_preprocessor import SelfSupDataPreprocessor

from mmvitplug.models.losses.paws import support_label_matrix
from mmvitplug.registry import MODELS

#: the view groups of a PAWS batch (see :class:`mmvitplug.PAWSDataset`)
GROUPS = ('support', 'unlabeled')


def pooled(feats) -> torch.Tensor:
    """The last backbone output as (B, C): a (B, C) vector as is, an NCHW
    map average-pooled, (B, N, C) tokens averaged (the embedding of
    :class:`mmvitplug.EmbeddingModel`)."""
    x = feats[-1] if isinstance(feats, (list, tuple)) else feats
    if isinstance(x, (list, tuple)):  # e.g. (patch map, cls token)
        x = x[-1]
    if x.dim() == 4:
        x = x.mean(dim=(2, 3))
    elif x.dim() == 3:
        x = x.mean(dim=1)
    if x.dim() != 2:
        raise ValueError('PAWS needs (B, C) vectors, NCHW maps or (B, N, C) '
                         f'tokens from the backbone; got {tuple(x.shape)}')
    return x


@MODELS.register_module()
class PAWSDataPreprocessor(SelfSupDataPreprocessor):
    """mmpretrain's :class:`SelfSupDataPreprocessor` for the batches of
    :class:`mmvitplug.PAWSDataset` (collated by mmengine's default
    ``pseudo_collate``).

    Such a batch mixes support and unlabelled images: ``inputs`` is
    ``{'support': [view slots], 'unlabeled': [view slots]}``, each slot a
    list over the batch with ``None`` where an image belongs to the other
    group (the pattern of mmdet's semi-supervised ``MultiBranch`` +
    ``MultiBranchDataPreprocessor``). Each group's images are stacked per
    view, then converted and normalised as upstream; the result is
    ``inputs = {group: [view tensors]}``, ``data_samples = {group: [data
    samples]}``. Other batches are handed to the upstream preprocessor
    unchanged.

    Args: as :class:`mmpretrain.models.SelfSupDataPreprocessor`.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if not isinstance(inputs, dict):
            return super().forward(data, training)
        samples = data.get('data_samples') or {}
        out_inputs, out_samples = {}, {}
        for group, slots in inputs.items():
            if not slots:
                raise ValueError(f'group {group!r} of the batch has no views')
            keep = [i for i, view in enumerate(slots[0]) if view is not None]
            if not keep:
                raise ValueError(
                    f'the batch has no {group!r} images: PAWS batches come '
                    'from mmvitplug.PAWSDataset with batch_sampler '
                    "type='mmvitplug.PAWSBatchSampler'")
            views = [torch.stack([slot[i] for i in keep]) for slot in slots]
            group_samples = samples.get(group)
            group_samples = None if group_samples is None else \
                [group_samples[i] for i in keep]
            out = super().forward(
                dict(inputs=views, data_samples=group_samples), training)
            out_inputs[group] = out['inputs']
            out_samples[group] = out['data_samples']
        return dict(inputs=out_inputs, data_samples=out_samples)


@MODELS.register_module()
class PAWS(BaseSelfSupervisor):
    """`PAWS <https://arxiv.org/abs/2104.13963>`_ (Assran et al. 2021),
    semi-supervised pretraining, as the official ``paws_train.py``
    (facebookresearch/suncet).

    Every step sees a support batch of labelled images (classes x images
    per class, in class order, ``V`` views each; from
    :class:`mmvitplug.PAWSBatchSampler`) and ``B`` unlabelled images with
    two large views and ``M`` small ones. All views go through the backbone
    (its last output as a (B, C) vector: ``out_type='cls_token'`` or
    ``'avg_featmap'``; a map is average-pooled, tokens averaged) and the
    projection ``neck`` to ``h``, then the head's prediction MLP to ``z``.
    As the official code, views of the same resolution are one forward
    (supports and large views together, then the small views), so
    batch-norm statistics are shared the same way. A backbone tied to one
    input size (ResMLP) takes small views of that size or none.

    - anchors: ``z`` of every unlabelled view and of the supports;
    - targets: ``h`` of the two large views and of the supports,
      detached (stop-gradient; no momentum encoder);
    - support labels: the smoothed one-hot matrix of the supports of all
      processes (:func:`mmvitplug.models.losses.paws.support_label_matrix`,
      equal to the official fixed matrix for class-ordered batches);
    - the head's :class:`mmvitplug.PAWSLoss` swaps the two large views'
      targets and gives each small view their mean.

    Args:
        backbone (dict): Backbone config (any plugin or mmpretrain
            backbone).
        neck (dict): Projection config, e.g. mmpretrain's ``NonLinearNeck``
            with ``num_layers=3, with_bias=True, with_last_bias=True,
            with_last_bn=False, with_avg_pool=False`` (the official
            ``fc1-bn-relu-fc2-bn-relu-fc3``); it receives ``(vector, )``.
        head (dict): :class:`mmvitplug.PAWSHead` config.
        label_smoothing (float): Smoothing of the support labels. Defaults
            to 0.1 (official).
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='mmvitplug.PAWSDataPreprocessor')``.
        init_cfg (dict, optional): Initialisation config.
    """

    #: state-dict prefix of the backbone to export (export_backbone.py)
    pretrained_backbone = 'backbone'

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 label_smoothing: float = 0.1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not 0 <= label_smoothing < 1:
            raise ValueError('label_smoothing must be in [0, 1), got '
                             f'{label_smoothing}')
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmvitplug.PAWSDataPreprocessor')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.label_smoothing = label_smoothing

    def project(self, images: torch.Tensor) -> torch.Tensor:
        """Images -> projections ``h`` (N, C)."""
        h = pooled(self.backbone(images))
        return self.neck((h, ))[0] if self.with_neck else h

    def embed_views(self, views: Sequence[torch.Tensor]):
        """``(h, z)`` of all ``views``, concatenated in order; consecutive
        views of one resolution are one forward (official)."""
        hs, zs, start = [], [], 0
        while start < len(views):
            end = start + 1
            while end < len(views) and \
                    views[end].shape[-2:] == views[start].shape[-2:]:
                end += 1
            h = self.project(torch.cat(list(views[start:end])))
            hs.append(h)
            zs.append(self.head(h))
            start = end
        return torch.cat(hs), torch.cat(zs)

    def support_labels(self, samples: List, num_views: int) -> torch.Tensor:
        """The label matrix of the supports of every process: each local
        sample's label repeated for its ``num_views`` views (view-major,
        the order of the embeddings), gathered in rank order."""
        if not samples or any('gt_label' not in s for s in samples):
            raise ValueError('every support image needs a gt_label')
        labels = torch.cat([s.gt_label.flatten()[:1] for s in samples])
        labels = labels.repeat(num_views)
        if get_world_size() > 1:
            labels = torch.cat(all_gather(labels))
        return support_label_matrix(labels, self.label_smoothing)

    def loss(self, inputs: Dict[str, List[torch.Tensor]],
             data_samples: Dict[str, list]) -> Dict[str, torch.Tensor]:
        """The PAWS losses of a batch of :class:`mmvitplug.PAWSDataset`.

        Args:
            inputs (dict): ``support``: ``V`` view tensors (S, 3, H, W);
                ``unlabeled``: ``2 + M`` view tensors (B, 3, h, w), the two
                large views first.
            data_samples (dict): ``support``: the supports' data samples
                (with ``gt_label``); ``unlabeled``: ignored.

        Returns:
            dict[str, Tensor]: ``loss_paws`` and ``loss_me_max``.
        """
        if not isinstance(inputs, dict) or set(inputs) != set(GROUPS):
            raise TypeError(
                'PAWS needs inputs {"support": [...], "unlabeled": [...]} '
                '(dataset mmvitplug.PAWSDataset, batch sampler '
                'mmvitplug.PAWSBatchSampler, data preprocessor '
                f'mmvitplug.PAWSDataPreprocessor); got {type(inputs)}')
        supports, views = list(inputs['support']), list(inputs['unlabeled'])
        if len(views) < 2:
            raise ValueError('PAWS needs two large views of each unlabelled '
                             f'image (then the small ones); got {len(views)}')
        num_supports = sum(v.shape[0] for v in supports)
        batch = views[0].shape[0]
        h, z = self.embed_views(supports + views)
        labels = self.support_labels(data_samples['support'], len(supports))
        return self.head.loss(
            anchor_views=z[num_supports:],
            anchor_supports=z[:num_supports],
            support_labels=labels.to(z.device),
            target_views=h[num_supports:num_supports + 2 * batch].detach(),
            target_supports=h[:num_supports].detach())
