# Optimizer of the bundled-shapes demos (`*_shapes-coco.py`,
# `*_shapes-ade.py`), trained from scratch on CPU: a higher lr than the
# full-size recipes and a mild layer-wise lr decay (0.9), as nothing is
# pretrained.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9),
    clip_grad=dict(max_norm=10.))
