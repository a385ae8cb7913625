# Function matching's "inconsistent" ablation at digits scale: the student
# and recipe of fm-deit-4l192d-p8_1xb16-30e_digits.py, but the teacher sees
# another random-resized crop of each image (MultiView: view 1 to the
# student, view 2 to the teacher, both mixed with one Mixup draw by
# mmvitplug.MultiViewClsDataPreprocessor).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./fm-deit-4l192d-p8_1xb16-30e_digits.py']

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=2, transforms=[[_base_.crop]]),
        dict(type='PackInputs'),
    ]))
