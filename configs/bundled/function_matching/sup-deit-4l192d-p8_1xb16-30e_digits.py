# The baseline of function matching at digits scale: the student, crops,
# Mixup (alpha 1) and 30-epoch schedule of
# fm-deit-4l192d-p8_1xb16-30e_digits.py, trained on the (mixed) labels with
# cross-entropy and no teacher.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./fm-deit-4l192d-p8_1xb16-30e_digits.py']

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=_base_.model.backbone,
    neck=None,
    head=dict(
        _base_.model.head,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
data_preprocessor = dict(type='ClsDataPreprocessor')
