# SEER RG-256GF: configs/seer/seer-regnety-320_512xb16_ig1b.py with the
# RegNetY-256GF trunk (vissl configs/config/pretrain/swav/models/
# regnet256Gf_1.yaml: depth 27, w_0 640, w_a 230.83, w_m 2.53, group width
# 373; 1272.2M parameters, final width 10444) and the SEER head of
# heads/d10444_d8192_d8192_d256_proto16k.yaml; the released checkpoint's
# name gives the rest of the recipe of the 32GF config
# (swav_ig1b_cosine_rg256gf_noBNhead_wd1e5_fairstore_bs16_node64_sinkhorn10_
# proto16k_apex_syncBN64_warmup8k: cosine, no BN in the head, weight decay
# 1e-5, 64 nodes x 8 GPUs x 16 images, 10 Sinkhorn iterations, 16k
# prototypes, Apex, 8k warm-up iterations).
# Source: vissl projects/SEER README + MODEL_DOCUMENTATION.md + the two yaml
# files above (facebookresearch/vissl@09270ed2).
# NOT REPRODUCIBLE AS IS: IG-1B is private (see the 32GF config).
_base_ = ['./seer-regnety-320_512xb16_ig1b.py']

model = dict(
    backbone=dict(arch='regnety-2560'), neck=dict(in_channels=10444))
