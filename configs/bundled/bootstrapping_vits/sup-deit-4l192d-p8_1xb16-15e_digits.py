# The ViT of bootstrap-joint-deit-4l192d-p8_1xb16-15e_digits.py (4 blocks
# of 192 dims, 6 heads, 8x8 patches) trained alone on the labels: the
# baseline of the bootstrapping claim (same schedule, batches and head).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./bootstrap-joint-deit-4l192d-p8_1xb16-15e_digits.py']

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=_base_.model.students.vit.backbone,
    head=dict(
        _base_.model.students.vit.head,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
custom_hooks = []
