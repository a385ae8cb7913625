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
# the restarts over the last period, from iteration 5
param_scheduler = dict(
    begin=sum(archnet_periods[:-1]), periods=archnet_periods[-1:])
custom_hooks = [
    dict(type='mmvitplug.ArchNetPeriodHook', periods=archnet_periods)
]
