# MACL (model-aware contrastive learning, Huang et al., ICML 2023,
# https://arxiv.org/abs/2207.07874) in SimCLR, ResNet-50, ImageNet-1k,
# 200 epochs on 16 GPUs x 256 images: mmpretrain's SimCLR recipe unchanged
# (LARS lr 4.8 for batch 4096, wd 1e-6, 10 warm-up epochs then cosine;
# 2-layer MLP projection to 128 with SyncBN; SimCLR augmentations), only
# the head replaced by mmvitplug.MACLHead.
# Source: mmpretrain 1.2.0 configs/simclr/simclr_resnet50_16xb256-coslr-
# 200e_in1k.py (the SimCLR paper's recipe) + MACL's loss (authors'
# chenhaoxing/MACL macl.py). UNVERIFIED: the paper's MACL hyper-parameters
# (and its SimCLR batch size: MACL argues for small batches) are in no
# released code or config; tau0 = 0.1 is SimCLR's temperature, alpha 0.5
# and A0 0 are lightly's MACLLoss defaults.
_base_ = ['mmpretrain::simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    backbone=dict(base_channels=64),  # ResNet-50's default, named
    head=dict(
        _delete_=True,
        type='mmvitplug.MACLHead',
        loss=dict(
            type='mmvitplug.MACLLoss', temperature=0.1, alpha=0.5, a0=0.)))

# LARS lr 4.8 = 0.3 x 4096 / 256 (the SimCLR paper's linear scaling)
auto_scale_lr = dict(base_batch_size=4096)
