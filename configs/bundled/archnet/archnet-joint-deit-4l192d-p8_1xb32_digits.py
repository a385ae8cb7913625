# The ablation of Arch-Net's progressive periods at digits scale: the same
# 2w4a ViT student, teacher, initialisation, adapters, loss terms,
# optimizer and 900 iterations as archnet-deit-4l192d-p8_1xb32_digits.py,
# but the whole-network period (every block's features and attention maps
# + the cross-entropy with the teacher's argmax) from the second
# iteration: the earlier periods last one iteration each (a period hook
# needs at least one), and its cosine restarts start there. No label.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./archnet-deit-4l192d-p8_1xb32_digits.py']

archnet_periods = [1] * 5 + [895]  # iterations
param_scheduler = [
    dict(
        type='CosineRestartLR',
        by_epoch=False,
        begin=5,
        end=900,
        periods=[135, 270, 540],
        restart_weights=[1.] * 3,
        eta_min=1e-4)
]
custom_hooks = [
    dict(type='mmvitplug.ArchNetPeriodHook', periods=archnet_periods)
]
