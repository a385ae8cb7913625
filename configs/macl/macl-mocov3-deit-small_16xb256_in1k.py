# MACL (model-aware contrastive learning, Huang et al., ICML 2023,
# https://arxiv.org/abs/2207.07874) in MoCo v3 with a plugin ViT: DeiT-S/16
# (= MoCo v3's ViT-Small widths: 384 dims, 12 blocks, 6 heads), ImageNet-1k,
# 300 epochs on 16 GPUs x 256 images: mmpretrain's MoCo v3 ViT-Small recipe
# (AdamW lr 2.4e-3 for batch 4096, wd 0.1, 40 warm-up epochs, cosine; 3-layer
# projection 4096 -> 256, 2-layer predictor, momentum 0.99 -> 1 cosine;
# asymmetric blur / solarisation views; fp16), the head replaced by
# mmvitplug.MACLMoCoV3Head (MoCoV3Head's interface) and the backbone by
# mmvitplug.DeiT.
# Source: mmpretrain 1.2.0 configs/mocov3/mocov3_vit-small-p16_16xb256-amp-
# coslr-300e_in1k.py (the MoCo v3 paper's recipe) + MACL's loss (authors'
# chenhaoxing/MACL macl.py). NOT a paper run: MACL reports no MoCo v3 ViT
# experiment we could check; tau0 = 0.2 is MoCo v3's temperature, alpha 0.5
# and A0 0 are lightly's MACLLoss defaults; the loss keeps MoCo v3's 2 x tau
# factor as loss_weight = 2 x tau0. Differs from MoCo v3's MoCoV3ViT: the
# patch embedding (and DeiT's learnt position embedding) is frozen by
# frozen_stages=0 instead of a fixed sin-cos position embedding with a
# stop-gradient patch projection.
_base_ = [
    'mmpretrain::mocov3/mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k.py'
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

tau0 = 0.2
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.DeiT',
        arch='deit-small',
        img_size=224,
        patch_size=16,
        frozen_stages=0,
        out_type='cls_token'),
    head=dict(
        _delete_=True,
        type='mmvitplug.MACLMoCoV3Head',
        predictor=dict(
            type='NonLinearNeck',
            in_channels=256,
            hid_channels=4096,
            out_channels=256,
            num_layers=2,
            with_bias=False,
            with_last_bn=True,
            with_last_bn_affine=False,
            with_last_bias=False,
            with_avg_pool=False),
        loss=dict(
            type='mmvitplug.MACLLoss',
            temperature=tau0,
            alpha=0.5,
            a0=0.,
            loss_weight=2 * tau0)))
