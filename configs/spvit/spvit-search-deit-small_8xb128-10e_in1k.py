# SPViT search for DeiT-S (He et al. 2021, https://arxiv.org/abs/2111.11802;
# official SPViT_DeiT/config/spvit_deit_sm_l30_t32_search.json): as the
# DeiT-Ti search (spvit-search-deit-tiny_4xb256-10e_in1k.py) with the
# official DeiT-S, loss_lambda 3, target 3.2 GFLOPs (of the unpruned 4.6),
# arc_lr 5e-4 (lr_mult 5 of 1e-4), 8 x 128 images.
# Source: official config/spvit_deit_sm_l30_t32_search.json + params.py.
_base_ = ['./spvit-search-deit-tiny_4xb256-10e_in1k.py']

pretrained = \
    'https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth'
model = dict(
    backbone=dict(
        backbone=dict(
            arch='deit-small', init_cfg=dict(checkpoint=pretrained))),
    head=dict(in_channels=384, init_cfg=dict(checkpoint=pretrained)),
    distiller=dict(
        losses=dict(
            loss_flops=dict(
                target_gflops=3.2, embed_dims=384, num_heads=6,
                loss_weight=3.0))))

train_dataloader = dict(batch_size=128)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={'thresholds': dict(lr_mult=5.0, decay_mult=0.0)}))
