# SEER RG-128GF: configs/seer/seer-regnety-320_512xb16_ig1b.py with the
# RegNetY-128GF trunk (vissl configs/config/pretrain/swav/models/
# regnet128Gf.yaml: depth 27, w_0 456, w_a 160.83, w_m 2.52, group width 264;
# 637.4M parameters, 693M with vissl's [7392, 7392, 128] 3000-prototype head
# = the README's count), the head of heads/d7392_d8192_d8192_d256_proto16k
# .yaml, and the released checkpoint's schedule
# (swav_ig1b_regnet128Gf_cnstant_bs32_node16_sinkhorn10_proto16k_syncBN64_
# warmup8k: 16 nodes x 8 GPUs x 32 = 4096 images, 8k warm-up iterations, a
# constant lr after it; lr 0.3 per 256 = 4.8; 1 epoch of 1B images =
# 244,141 iterations).
# Source: vissl projects/SEER README (checkpoint name) + regnet128Gf.yaml +
# heads/d7392_d8192_d8192_d256_proto16k.yaml (facebookresearch/vissl@09270ed2).
# NOT REPRODUCIBLE AS IS: IG-1B is private (see the 32GF config).
_base_ = ['./seer-regnety-320_512xb16_ig1b.py']

batch_size = 32
total_batch = 128 * batch_size
base_lr = 0.3 * total_batch / 256  # 4.8
max_iters = 244141  # 1 epoch of 1e9 images at 4096
train_dataloader = dict(batch_size=batch_size)
model = dict(
    backbone=dict(arch='regnety-1280'), neck=dict(in_channels=7392))
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.3 / base_lr,
        by_epoch=False,
        begin=0,
        end=8000),
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=8000,
         end=max_iters),
]
auto_scale_lr = dict(base_batch_size=total_batch)
custom_hooks = [
    dict(
        type='SwAVHook',
        priority='VERY_HIGH',
        batch_size=batch_size,
        crops_for_assign=[0, 1],
        feat_dim=256,
        queue_length=0,
        frozen_layers_cfg=dict(prototypes=313))
]
train_cfg = dict(max_iters=max_iters)
