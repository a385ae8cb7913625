# Copyright (c) mmvitplug contributors.
"""DeepCluster (`Caron et al. 2018 <https://arxiv.org/abs/1807.05520>`_):
alternate k-means on the features of the whole training set and training
the network to predict the cluster ids.

The clustering maths (PCA-whitening + L2, k-means, relabelling) are module
functions here; the per-epoch schedule (extraction, gathering under DDP,
broadcasting the labels, head re-initialisation, optimizer state reset,
logging) is :class:`mmvitplug.engine.hooks.DeepClusterHook`; the sampling
uniform over clusters is :class:`mmvitplug.datasets.UniformClusterSampler`.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.structures import DataSample
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from torch import nn

from mmvitplug.registry import MODELS

#: whitening floors each variance at this fraction of the largest one
#: (DeeperCluster's ``PCA.train_pca``; faiss' ``PCAMatrix`` has no floor)
VARIANCE_FLOOR = 1e-5


def pca_whiten_l2(features: np.ndarray, dim: int) -> np.ndarray:
    """PCA to ``dim`` dimensions with whitening, then L2 normalisation
    (DeepCluster's ``preprocess_features``).

    The official code applies faiss' ``PCAMatrix(d, dim,
    eigen_power=-0.5)``: centred features projected on the ``dim`` leading
    eigenvectors of the covariance, each coordinate divided by the square
    root of its eigenvalue. The decomposition here is scikit-learn's
    ``PCA`` (the covariance eigen-decomposition when there are more images
    than dimensions, as faiss). scikit-learn's variances are unbiased
    (``n - 1``) and faiss' biased (``n``): one global factor, which the L2
    normalisation removes. Variances below ``1e-5`` of the largest are
    raised to that floor (as DeeperCluster's PCA) so that degenerate
    directions are not blown up to unit variance.

    Args:
        features (np.ndarray): (N, D) features.
        dim (int): Output dimensions, at most ``min(N, D)``.

    Returns:
        np.ndarray: (N, dim) float32, unit L2 norm per row.
    """
    features = np.asarray(features, dtype=np.float64)
    n, d = features.shape
    if not 0 < dim <= min(n, d):
        raise ValueError(
            f'PCA to {dim} dimensions needs 0 < dim <= min(images, feature '
            f'dims) = min({n}, {d}): lower pca_dim')
    solver = 'covariance_eigh' if n > d else 'full'
    pca = PCA(n_components=dim, svd_solver=solver)
    projected = pca.fit_transform(features)
    variance = pca.explained_variance_
    variance = np.maximum(variance, variance.max() * VARIANCE_FLOOR)
    whitened = projected / np.sqrt(variance)
    norms = np.linalg.norm(whitened, axis=1, keepdims=True)
    return (whitened / np.maximum(norms, 1e-12)).astype(np.float32)


def run_kmeans(x: np.ndarray, k: int, niter: int,
               seed: int) -> Tuple[np.ndarray, float]:
    """k-means as DeepCluster's ``run_kmeans`` (faiss): ``k`` random
    images as initial centroids, ``niter`` Lloyd iterations, a new seed
    every call.

    scikit-learn's ``KMeans`` (``init='random'``, one initialisation,
    ``tol=0``: it stops early only when no assignment changes, a fixed point
    of faiss' iterations too). A centroid that loses all its points during
    the iterations is moved to a far point (scikit-learn; faiss splits a
    large cluster instead): clusters stay non-empty unless there are fewer
    distinct points than ``k``.

    Args:
        x (np.ndarray): (N, d) data.
        k (int): Number of clusters, at most N.
        niter (int): Lloyd iterations.
        seed (int): Seed of the initialisation.

    Returns:
        tuple: (N, ) int64 cluster ids in ``[0, k)`` and the mean squared
        distance of the images to their centroids.
    """
    if not 0 < k <= len(x):
        raise ValueError(f'k-means into {k} clusters needs 0 < k <= the '
                         f'number of images ({len(x)}): lower num_clusters')
    kmeans = KMeans(
        n_clusters=k, init='random', n_init=1, max_iter=niter, tol=0.0,
        random_state=seed % (2**32))
    labels = kmeans.fit_predict(x)
    return labels.astype(np.int64), float(kmeans.inertia_) / len(x)


def compact_labels(assignments: np.ndarray) -> np.ndarray:
    """Cluster ids -> pseudo-labels ``0 .. n - 1`` over the ``n`` non-empty
    clusters, in increasing cluster id (DeepCluster's ``cluster_assign``:
    its ``label_to_idx`` enumerates the set of non-empty cluster ids).
    """
    return np.unique(assignments, return_inverse=True)[1].astype(np.int64)


@MODELS.register_module()
class DeepCluster(BaseSelfSupervisor):
    """DeepCluster (`Caron et al. 2018 <https://arxiv.org/abs/1807.05520>`_;
    official code `facebookresearch/deepcluster
    <https://github.com/facebookresearch/deepcluster>`_).

    Before each training epoch :class:`mmvitplug.DeepClusterHook` embeds
    the whole training set with the evaluation transform
    (:meth:`extract_feat`), clusters the embeddings (:meth:`cluster`:
    PCA-whitening to ``pca_dim`` + L2, k-means into ``num_clusters``),
    stores the pseudo-labels (:meth:`set_pseudo_labels`) and re-initialises
    the classifier (:meth:`reset_head`). The epoch then trains backbone
    and classifier with cross-entropy on the pseudo-labels, looked up by
    each image's ``sample_idx``.

    Works with any backbone whose output (after the optional neck) is one
    vector per image: plugin ViTs with ``out_type='cls_token'`` or
    ``'avg_featmap'``, convnets with a ``GlobalAveragePooling`` neck. The
    official VGG's features are its pre-ReLU fc7 and its classifier a ReLU
    then the top layer; a ViT's normalised class token has no such ReLU,
    so the head reads the clustering features directly.

    Args:
        backbone (dict): Backbone config.
        head (dict): Classifier config (e.g. mmpretrain's ``LinearClsHead``
            with ``in_channels`` = the feature dimension); its
            ``num_classes`` is set to ``num_clusters``.
        num_clusters (int): k of k-means (paper: 10000 on ImageNet).
        neck (dict, optional): Neck between backbone and head.
        pca_dim (int): Dimensions kept by the PCA-whitening (paper: 256).
        kmeans_iters (int): Lloyd iterations (official: 20).
        head_init_std (float): Std of the normal re-initialisation of the
            head's linear layers each clustering (official: 0.01, bias 0).
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``ClsDataPreprocessor`` (one view per image).
        init_cfg (dict, optional): Initialisation config.
    """
    #: state-dict prefix of the backbone that the export tool extracts
    pretrained_backbone = 'backbone'

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 num_clusters: int,
                 neck: Optional[dict] = None,
                 pca_dim: int = 256,
                 kmeans_iters: int = 20,
                 head_init_std: float = 0.01,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if num_clusters < 2:
            raise ValueError(f'num_clusters must be >= 2, got {num_clusters}')
        head = self._head_cfg(head, num_clusters)
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.num_clusters = num_clusters
        self.pca_dim = pca_dim
        self.kmeans_iters = kmeans_iters
        self.head_init_std = head_init_std
        # a plain tensor, not a buffer: DDP would broadcast a buffer at
        # every step; the hook sets it on every rank
        self.pseudo_labels: Optional[torch.Tensor] = None

    @staticmethod
    def _head_cfg(head: dict, num_clusters: int) -> dict:
        head = dict(head)
        if head.setdefault('num_classes', num_clusters) != num_clusters:
            raise ValueError(
                f'head num_classes {head["num_classes"]} != num_clusters '
                f'{num_clusters}: drop num_classes from the head config')
        return head

    # ------------------------------------------------------------------
    # features

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> features (B, C): the last output of the
        backbone (and neck)."""
        x = self.backbone(inputs)
        if self.with_neck:
            x = self.neck(x)
        while isinstance(x, (list, tuple)):
            x = x[-1]
        if x.dim() != 2:
            raise ValueError(
                f'{type(self).__name__} clusters one vector per image; the '
                f'backbone (and neck) gave shape {tuple(x.shape)}: use '
                "out_type='cls_token' or 'avg_featmap', or a "
                "GlobalAveragePooling neck")
        return x

    # ------------------------------------------------------------------
    # clustering (called on rank 0 by the hook)

    def cluster(self, features: np.ndarray,
                seed: int) -> Tuple[np.ndarray, Dict[str, float]]:
        """Features of the whole training set -> pseudo-labels.

        Args:
            features (np.ndarray): (N, C) features, dataset order.
            seed (int): Seed of this clustering's k-means.

        Returns:
            tuple: (N, ) int64 pseudo-labels in ``[0, num_clusters)`` and
            statistics to log (``kmeans_inertia``: mean squared distance to
            the centroid on the whitened, normalised features).
        """
        x = pca_whiten_l2(features, self.pca_dim)
        assignments, loss = run_kmeans(x, self.num_clusters,
                                       self.kmeans_iters, seed)
        return compact_labels(assignments), dict(kmeans_inertia=loss)

    def set_pseudo_labels(self, labels) -> None:
        """Stores the pseudo-label of every training image (by
        ``sample_idx``)."""
        self.pseudo_labels = torch.as_tensor(np.asarray(labels),
                                             dtype=torch.long)

    def sampling_labels(self) -> np.ndarray:
        """The labels the sampler is uniform over."""
        return self.pseudo_labels.numpy()

    def head_modules(self) -> List[nn.Module]:
        """The modules :meth:`reset_head` re-initialises (their optimizer
        state is reset by the hook)."""
        return [self.head]

    def reset_head(self, seed: int) -> None:
        """Re-initialises every linear layer of the head: weights from
        N(0, ``head_init_std``), biases 0 (official ``top_layer``). The
        seed makes the new head identical on every rank."""
        generator = torch.Generator().manual_seed(seed)
        for module in self.head.modules():
            if isinstance(module, nn.Linear):
                with torch.no_grad():
                    weight = torch.empty(module.weight.shape).normal_(
                        0, self.head_init_std, generator=generator)
                    module.weight.copy_(weight)
                    if module.bias is not None:
                        module.bias.zero_()

    # ------------------------------------------------------------------
    # training

    def targets(self, data_samples: Sequence[DataSample],
                device: Union[str, torch.device]) -> torch.Tensor:
        """The pseudo-labels of a batch, by each sample's ``sample_idx``."""
        if self.pseudo_labels is None:
            raise RuntimeError(
                f'{type(self).__name__} has no pseudo-labels: add '
                "dict(type='mmvitplug.DeepClusterHook') to custom_hooks")
        try:
            index = [int(s.sample_idx) for s in data_samples]
        except AttributeError:
            raise KeyError(
                'data samples carry no sample_idx: keep it in the training '
                "pipeline's PackInputs meta_keys") from None
        return self.pseudo_labels[index].to(device)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Cross-entropy of the head on the pseudo-labels."""
        targets = self.targets(data_samples, inputs.device)
        feats = self.extract_feat(inputs)
        samples = [DataSample().set_gt_label(t) for t in targets]
        return self.head.loss((feats, ), samples)
