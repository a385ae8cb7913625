# Copyright (c) mmvitplug contributors.
"""The clustering step of DeepCluster / DeeperCluster, before training
epochs."""
import copy
import time
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import (all_gather, broadcast, broadcast_object_list,
                           get_rank, sync_random_seed)
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict
from mmpretrain.utils import get_ori_model
from sklearn.metrics import normalized_mutual_info_score

from mmvitplug.registry import HOOKS


def assignment_stats(labels: np.ndarray,
                     previous: Optional[np.ndarray] = None,
                     gt_labels: Optional[np.ndarray] = None
                     ) -> Dict[str, float]:
    """What the hook logs about an assignment.

    - ``nmi_prev``: NMI between this and the previous assignment (the
      official code's stability diagnostic), when there is one;
    - ``nmi_gt``: NMI with the dataset's own labels, when it has them (a
      diagnostic only: training never sees them);
    - ``clusters_used``: number of non-empty clusters;
    - ``largest_cluster``: fraction of the images in the largest cluster.
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels)
    stats = dict(
        clusters_used=float((counts > 0).sum()),
        largest_cluster=float(counts.max() / len(labels)))
    if previous is not None:
        stats['nmi_prev'] = float(
            normalized_mutual_info_score(previous, labels))
    if gt_labels is not None:
        stats['nmi_gt'] = float(
            normalized_mutual_info_score(gt_labels, labels))
    return stats


def _gather_rows(local: torch.Tensor) -> torch.Tensor:
    """Rows of every rank, concatenated (ranks may hold different numbers
    of rows); the input itself when not distributed."""
    size = torch.tensor([len(local)])
    sizes = [int(s) for s in all_gather(size)]
    if len(sizes) == 1:
        return local
    padded = local.new_zeros((max(sizes), ) + local.shape[1:])
    padded[:len(local)] = local
    parts = all_gather(padded)
    return torch.cat([p[:s] for p, s in zip(parts, sizes)])


@HOOKS.register_module()
class DeepClusterHook(Hook):
    """Clusters the training set before every ``interval``-th training
    epoch, for :class:`mmvitplug.DeepCluster` and
    :class:`mmvitplug.DeeperCluster`.

    Each clustering epoch:

    1. every rank embeds its share of the training set with the evaluation
       transform (``extract_dataloader``; model in eval mode, no gradient);
    2. the features are gathered (``mmengine.dist.all_gather``) and placed
       by ``sample_idx``; rank 0 clusters them (``model.cluster``, with the
       seed ``seed + epoch``: a new k-means initialisation every time) and
       the labels are broadcast (``mmengine.dist.broadcast``);
    3. every rank stores the labels in the model and in the training
       sampler (:class:`mmvitplug.UniformClusterSampler`), re-initialises
       the head (same seed on every rank) and drops the optimizer state of
       the head's parameters (the official code builds a new optimizer for
       the new top layer);
    4. NMI with the previous assignment (and with the dataset's labels when
       it has them), the clusters used and the k-means loss are logged
       (``train/nmi_prev``, ``train/nmi_gt``, ``train/clusters_used``,
       ``train/largest_cluster``, ``train/kmeans_inertia``).

    The last labels are saved in checkpoints (``meta['deepcluster']``) so
    that a resumed run keeps its assignment between clusterings and
    reports NMI against it.

    Args:
        extract_pipeline (list, optional): Evaluation transform; the
            feature-extraction loader is then the training loader's config
            with this pipeline and a ``DefaultSampler`` without shuffling.
        extract_dataloader (dict, optional): The whole feature-extraction
            loader instead (its dataset must list the training images in
            the same order). Exactly one of the two is given.
        interval (int): Epochs between clusterings (DeepCluster: 1;
            DeeperCluster's ``--reassignment``: 3).
        seed (int, optional): Base seed of k-means and head
            initialisations. Defaults to a seed synchronised from rank 0.
    """
    priority = 'NORMAL'

    def __init__(self,
                 extract_pipeline: Optional[list] = None,
                 extract_dataloader: Optional[dict] = None,
                 interval: int = 1,
                 seed: Optional[int] = None):
        if (extract_pipeline is None) == (extract_dataloader is None):
            raise ValueError('DeepClusterHook needs exactly one of '
                             'extract_pipeline (the evaluation transform) '
                             'and extract_dataloader')
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.extract_pipeline = extract_pipeline
        self.extract_dataloader = extract_dataloader
        self.interval = interval
        self.seed = seed
        self.labels: Optional[np.ndarray] = None
        self.previous: Optional[np.ndarray] = None
        self._loader = None

    # ------------------------------------------------------------------

    def _build_loader(self, runner):
        if self.extract_dataloader is not None:
            cfg = copy.deepcopy(self.extract_dataloader)
        else:
            cfg = copy.deepcopy(runner.cfg.get('train_dataloader'))
            dataset = cfg['dataset']
            if 'pipeline' not in dataset:
                raise ValueError(
                    'the training dataset config has no pipeline to replace '
                    '(a wrapped dataset?): give DeepClusterHook an '
                    'extract_dataloader')
            dataset['pipeline'] = copy.deepcopy(self.extract_pipeline)
            cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
            cfg.pop('batch_sampler', None)
        return runner.build_dataloader(cfg, seed=runner.seed)

    def before_train(self, runner) -> None:
        if self.seed is None:
            self.seed = sync_random_seed()
        self._loader = self._build_loader(runner)
        n_train = len(runner.train_dataloader.dataset)
        n_extract = len(self._loader.dataset)
        if n_train != n_extract:
            raise ValueError(
                f'DeepClusterHook: the extraction dataset has {n_extract} '
                f'images, the training dataset {n_train}: both must list '
                'the same images in the same order')
        sampler = runner.train_dataloader.sampler
        if not hasattr(sampler, 'set_labels'):
            raise TypeError(
                f'the training sampler is {type(sampler).__name__}: use '
                "sampler=dict(type='mmvitplug.UniformClusterSampler')")

    @torch.no_grad()
    def extract(self, model) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Features (N, C) of the whole dataset, and its labels (or None),
        in dataset order, on every rank."""
        was_training = model.training
        model.eval()
        feats, indices, gts = [], [], []
        for data in self._loader:
            data = model.data_preprocessor(data, False)
            feats.append(model.extract_feat(data['inputs']).float().cpu())
            samples = data['data_samples']
            indices += [int(s.sample_idx) for s in samples]
            gts += [
                int(s.gt_label[0]) if 'gt_label' in s else -1
                for s in samples
            ]
        model.train(was_training)
        feats = _gather_rows(torch.cat(feats))
        indices = _gather_rows(torch.tensor(indices)).numpy()
        gts = _gather_rows(torch.tensor(gts)).numpy()
        n = len(self._loader.dataset)
        if set(indices.tolist()) != set(range(n)):
            raise RuntimeError('feature extraction did not cover every '
                               'image of the dataset exactly')
        out = np.zeros((n, feats.shape[1]), dtype=np.float32)
        out[indices] = feats.numpy()
        labels = np.full(n, -1, dtype=np.int64)
        labels[indices] = gts
        return out, (labels if (labels >= 0).all() else None)

    def reassign(self, runner) -> None:
        """One clustering step (all ranks)."""
        model = get_ori_model(runner.model)
        start = time.time()
        features, gt_labels = self.extract(model)
        seed = self.seed + runner.epoch
        n = len(features)
        labels = torch.zeros(n, dtype=torch.long)
        stats = [None]
        if get_rank() == 0:
            assignment, info = model.cluster(features, seed)
            labels = torch.as_tensor(assignment, dtype=torch.long)
            info.update(assignment_stats(assignment, self.labels, gt_labels))
            info['cluster_seconds'] = time.time() - start
            stats = [info]
        broadcast(labels)
        broadcast_object_list(stats)
        self.previous, self.labels = self.labels, labels.numpy()
        self.apply(runner, model, reset_head_seed=seed)
        for key, value in stats[0].items():
            runner.message_hub.update_scalar(f'train/{key}', value)
        runner.logger.info(
            f'DeepClusterHook, epoch {runner.epoch}: ' + ', '.join(
                f'{k} {v:.4g}' for k, v in stats[0].items()))

    def apply(self, runner, model, reset_head_seed: Optional[int]) -> None:
        """Gives the labels to the model and the sampler; re-initialises
        the head and drops its optimizer state when given a seed."""
        model.set_pseudo_labels(self.labels)
        runner.train_dataloader.sampler.set_labels(model.sampling_labels())
        if reset_head_seed is None:
            return
        model.reset_head(reset_head_seed)
        params = [
            p for module in model.head_modules() for p in module.parameters()
        ]
        wrapper = runner.optim_wrapper
        wrappers = wrapper.values() if isinstance(
            wrapper, OptimWrapperDict) else [wrapper]
        for w in wrappers:
            for p in params:
                w.optimizer.state.pop(p, None)

    def before_train_epoch(self, runner) -> None:
        if self.labels is None or runner.epoch % self.interval == 0:
            self.reassign(runner)
        else:  # between clusterings (or resumed there): same assignment
            self.apply(runner, get_ori_model(runner.model), None)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.labels is not None:
            checkpoint.setdefault('meta', {})['deepcluster'] = dict(
                labels=torch.from_numpy(self.labels))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get('deepcluster')
        if saved is not None:
            self.labels = torch.as_tensor(saved['labels']).long().numpy()
