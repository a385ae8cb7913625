# EcoFormer (Liu et al., NeurIPS 2022, https://arxiv.org/abs/2209.09004)
# on LIT-Ti, the plugin's PVT-like pyramid (ziplab's LIT: PVT stages, MLP
# blocks in stages 1-2, plain multi-head attention with absolute positions
# in stages 3-4). The official recipe is for PVTv2-B0..B4 (ziplab/EcoFormer
# pvt/scripts/train_ecoformer.sh, pvt/configs/pvt_v2/*_ecoformer.py,
# params.py defaults), which mmvitplug does not have; as there, the
# attention of every stage but the last becomes EcoFormer's (here stage
# 3's, skip 'stages.3.*'; 16-bit codes, 25 anchors, top / bottom 10
# similarity targets) and a trained softmax-attention model is fine-tuned:
# a LIT-Ti checkpoint (placeholder path: an mmvitplug checkpoint of
# configs/lit/sup-lit-ti_8xb128_in1k.py, or the official lit_ti.pth,
# converted on load; its qkv rows of q and v load into the shared q = k
# and value projections). Schedule as the official one: 30 epochs, 8 GPUs
# x 32 images, AdamW lr 5e-5 x total batch / 512, weight decay 0.05, 5
# warm-up epochs from 1e-7, cosine to 1e-6, drop path 0.1, the DeiT data
# pipeline (RandAugment, random erasing 0.25, repeated augmentation, Mixup
# 0.8 / CutMix 1.0, label smoothing 0.1), AMP; the hash functions fit on
# the first batch (refit every 300 epochs: once); LIT's deformable offsets
# at lr x 0.01 as in its own recipe.
# Source: official train_ecoformer.sh, pvt_v2_b*_ecoformer.py, params.py.
_base_ = ['./ecoformer-deit-small_8xb32-30e_in1k.py']

pretrained = 'pretrain/lit_ti.pth'
model = dict(
    backbone=dict(
        backbone=dict(
            _delete_=True,
            type='mmvitplug.LIT',
            arch='lit-ti',
            drop_path_rate=0.1,
            init_cfg=dict(
                type='Pretrained', checkpoint=pretrained,
                prefix='backbone.')),
        skip=('stages.3.*', )),
    head=dict(
        in_channels=512,
        init_cfg=dict(
            _delete_=True, type='TruncNormal', layer='Linear', std=0.02,
            bias=0.)),
)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '.pos_embed': dict(decay_mult=1.0),
            'conv_offset.weight': dict(lr_mult=0.01),
        }))
