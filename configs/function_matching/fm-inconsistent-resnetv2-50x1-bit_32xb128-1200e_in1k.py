# Function matching's "inconsistent" ablation (Beyer et al. 2022,
# https://arxiv.org/abs/2106.05237, Sec. 4.2 / Fig. 3: "independent
# noise"): the recipe of fm-resnetv2-50x1-bit_32xb128-1200e_in1k.py, but
# the teacher sees ANOTHER inception crop + flip of each image than the
# student (two views from MultiView, mixed together with one Mixup draw by
# mmvitplug.MultiViewClsDataPreprocessor: view 1 to the student, view 2 to
# the teacher). The paper finds it clearly worse than consistent teaching.
# Source: function-matching paper (ablation); recipe as the consistent one.
_base_ = ['./fm-resnetv2-50x1-bit_32xb128-1200e_in1k.py']

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(
            type='MultiView',
            num_views=2,
            transforms=[[
                dict(
                    type='RandomResizedCrop', scale=224,
                    crop_ratio_range=(0.05, 1.0), backend='pillow',
                    interpolation='bilinear'),
                dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            ]]),
        dict(type='PackInputs'),
    ]))
