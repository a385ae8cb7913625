# MACL (model-aware contrastive learning, Huang et al., ICML 2023,
# https://arxiv.org/abs/2207.07874) in MoCo v2, ResNet-50, ImageNet-1k,
# 200 epochs on 8 GPUs x 32 images: mmpretrain's MoCo v2 recipe unchanged
# (SGD lr 0.03 for batch 256, momentum 0.9, wd 1e-4, cosine; queue 65536;
# momentum 0.999 = mmpretrain's momentum=0.001; MoCo v2 augmentations), only
# the head replaced by mmvitplug.MACLHead.
# Source: mmpretrain 1.2.0 configs/mocov2/mocov2_resnet50_8xb32-coslr-200e_
# in1k.py (the MoCo v2 paper's 200-epoch recipe) + MACL's loss (authors'
# chenhaoxing/MACL macl.py). UNVERIFIED: the paper's MACL hyper-parameters
# for this run are in no released code or config; tau0 = 0.2 is MoCo v2's
# temperature, alpha 0.5 and A0 0 are lightly's MACLLoss defaults; the
# paper's exact epochs / batch for MoCo v2 + MACL were not checked.
_base_ = ['mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py']
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

model = dict(
    backbone=dict(base_channels=64),  # ResNet-50's default, named
    head=dict(
        _delete_=True,
        type='mmvitplug.MACLHead',
        loss=dict(
            type='mmvitplug.MACLLoss', temperature=0.2, alpha=0.5, a0=0.)))
