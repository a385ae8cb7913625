# Copyright (c) mmvitplug contributors.
"""DeeperCluster (`Caron et al. 2019 <https://arxiv.org/abs/1905.01278>`_):
hierarchical pseudo-labels, 4 rotations x super-clusters, then
sub-clusters inside each super-cluster."""
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmpretrain.structures import DataSample
from torch import nn

from mmvitplug.registry import MODELS
from .deepcluster import DeepCluster, pca_whiten_l2, run_kmeans

#: rotations predicted with the super-clusters (0, 90, 180, 270 degrees)
NUM_ROTATIONS = 4


def rotate_batch(inputs: torch.Tensor,
                 rotations: torch.Tensor) -> torch.Tensor:
    """Rotates each image (B, C, H, W) by ``rotations[i]`` x 90 degrees
    counter-clockwise (the official ``rotate_img``: 90 is
    ``flipud(transpose)`` = ``np.rot90``)."""
    if inputs.shape[-1] != inputs.shape[-2]:
        raise ValueError('rotation prediction needs square images, got '
                         f'{tuple(inputs.shape[-2:])}: crop to a square or '
                         'set rotation=False')
    out = inputs.clone()
    for k in range(1, NUM_ROTATIONS):
        mask = rotations == k
        if mask.any():
            out[mask] = torch.rot90(inputs[mask], k, dims=(-2, -1))
    return out


@MODELS.register_module()
class DeeperCluster(DeepCluster):
    """DeeperCluster (`Caron et al. 2019 <https://arxiv.org/abs/1905.01278>`_;
    official code `facebookresearch/DeeperCluster
    <https://github.com/facebookresearch/DeeperCluster>`_), single process
    or any number of processes.

    Clustering (:meth:`cluster`, every ``interval`` epochs of
    :class:`mmvitplug.DeepClusterHook`; official ``--reassignment`` 3):
    PCA-whitening + L2 of the features, k-means into
    ``num_super_clusters`` super-clusters, then k-means into
    ``num_clusters // num_super_clusters`` sub-clusters inside each
    super-cluster. The pseudo-label of an image is
    ``super_cluster * k_sub + sub_cluster``; the sampler is uniform over
    these (sub-)clusters, which makes the super-clusters equally frequent
    too (the official code samples each super-cluster's images
    ``size / super_clusters`` times, uniformly over its sub-clusters).

    Training: with ``rotation=True`` each image is rotated by 0, 90, 180
    or 270 degrees (a random permutation of the batch cycles through the 4
    angles, so a batch of a multiple of 4 is balanced; the official code
    gives each process one angle) and its super-class is
    ``super_cluster * 4 + rotation`` (the official process-group id:
    ``rank // training_local_world_size``). Loss = cross-entropy of the
    super-class layer + cross-entropy of the sample's super-class's
    sub-class layer on its sub-cluster (:class:`DeeperClusterHead`). At each
    reassignment the sub-class layers are re-initialised, and the
    super-class layer too when there is more than one super-cluster (the
    official code keeps it for a single super-cluster, where it is a pure
    rotation classifier).

    The official code needs a world size divisible by the number of
    super-classes (one process group per super-class) and YFCC100M; this
    one runs on any number of processes. Its VGG applies a ReLU to the
    features before the prediction layers; a ViT's normalised class token
    goes to the layers as is.

    Args:
        backbone (dict): Backbone config.
        head (dict): :class:`DeeperClusterHead` config without
            ``num_super_classes`` / ``num_sub_classes`` (set from the
            arguments below).
        num_clusters (int): Total number of sub-clusters (official ``k``).
        num_super_clusters (int): Number of super-clusters (official
            ``super_classes / 4`` with rotations); divides ``num_clusters``.
        rotation (bool): Predict the 4 rotations with the super-clusters
            (official ``--rotnet``, default True).
        neck (dict, optional): Neck.
        pca_dim (int): PCA-whitening dimensions (official 4096 for VGG's
            4096-d fc7 on YFCC100M).
        kmeans_iters (int): Lloyd iterations (official ``--niter`` 10).
        data_preprocessor (dict, optional): Defaults to
            ``ClsDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 num_clusters: int,
                 num_super_clusters: int,
                 rotation: bool = True,
                 neck: Optional[dict] = None,
                 pca_dim: int = 256,
                 kmeans_iters: int = 10,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if num_super_clusters < 1 or num_clusters % num_super_clusters:
            raise ValueError(
                f'num_clusters ({num_clusters}) must be a multiple of '
                f'num_super_clusters ({num_super_clusters}) >= 1')
        self.num_super_clusters = num_super_clusters
        self.rotation = rotation
        self.num_sub_clusters = num_clusters // num_super_clusters
        super().__init__(
            backbone=backbone,
            head=head,
            num_clusters=num_clusters,
            neck=neck,
            pca_dim=pca_dim,
            kmeans_iters=kmeans_iters,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)

    @property
    def num_super_classes(self) -> int:
        """Super-classes: (rotations x) super-clusters."""
        return self.num_super_clusters * (NUM_ROTATIONS
                                          if self.rotation else 1)

    def _head_cfg(self, head: dict, num_clusters: int) -> dict:
        head = dict(head)
        for key, value in (('num_super_classes', self.num_super_classes),
                           ('num_sub_classes', self.num_sub_clusters)):
            if head.setdefault(key, value) != value:
                raise ValueError(
                    f'head {key} {head[key]} != {value} (from num_clusters, '
                    'num_super_clusters and rotation): drop it from the '
                    'head config')
        return head

    # ------------------------------------------------------------------

    def cluster(self, features: np.ndarray,
                seed: int) -> Tuple[np.ndarray, Dict[str, float]]:
        """Hierarchical k-means -> ``super_cluster * k_sub + sub_cluster``.

        A super-cluster of fewer images than ``k_sub`` gets one sub-cluster
        per image (``small_super_clusters`` counts them).
        """
        x = pca_whiten_l2(features, self.pca_dim)
        if self.num_super_clusters > 1:
            supers, loss = run_kmeans(x, self.num_super_clusters,
                                      self.kmeans_iters, seed)
        else:
            supers, loss = np.zeros(len(x), dtype=np.int64), 0.0
        labels = np.empty(len(x), dtype=np.int64)
        sub_losses, small = [], 0
        for c in range(self.num_super_clusters):
            members = np.flatnonzero(supers == c)
            if len(members) == 0:
                continue
            k = min(self.num_sub_clusters, len(members))
            small += k < self.num_sub_clusters
            subs, sub_loss = run_kmeans(x[members], k, self.kmeans_iters,
                                        seed + 1 + c)
            labels[members] = c * self.num_sub_clusters + subs
            sub_losses.append(sub_loss * len(members))
        return labels, dict(
            kmeans_inertia=float(sum(sub_losses)) / len(x),
            super_kmeans_inertia=loss,
            super_clusters_used=float(len(np.unique(supers))),
            small_super_clusters=float(small))

    def head_modules(self) -> List[nn.Module]:
        return [self.head]

    def reset_head(self, seed: int) -> None:
        """Official reassignment: new sub-class layers, and a new
        super-class layer when there is more than one super-cluster."""
        generator = torch.Generator().manual_seed(seed)
        self.head.reset_parameters(
            generator, super_layer=self.num_super_clusters > 1)

    # ------------------------------------------------------------------

    def hierarchical_targets(
            self, labels: torch.Tensor, rotations: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pseudo-labels (and rotations) -> (super-class, sub-class)
        targets: ``super_cluster * 4 + rotation`` (or ``super_cluster``)
        and ``sub_cluster``."""
        supers = labels // self.num_sub_clusters
        subs = labels % self.num_sub_clusters
        if rotations is not None:
            supers = supers * NUM_ROTATIONS + rotations
        return supers, subs

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        labels = self.targets(data_samples, inputs.device)
        rotations = None
        if self.rotation:
            rotations = torch.randperm(
                len(inputs), device=inputs.device) % NUM_ROTATIONS
            inputs = rotate_batch(inputs, rotations)
        supers, subs = self.hierarchical_targets(labels, rotations)
        feats = self.extract_feat(inputs)
        return self.head.loss(feats, supers, subs)
