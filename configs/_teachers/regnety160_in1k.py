# Teacher of the DeiT-family distillation configs on ImageNet-1k: the
# RegNetY-16GF of the DeiT paper (https://arxiv.org/abs/2012.12877: 82.9
# top-1; https://dl.fbaipublicfiles.com/deit/regnety_160-a5fe301d.pth, timm
# 'regnety_160.deit_in1k') as an mmpretrain ImageClassifier.
# Source: DeiT paper and official README (teacher checkpoint).
# A distillation config lists this file in its `_base_` and sets
# `model = dict(teacher=_base_.teacher, teacher_ckpt=_base_.teacher_ckpt)`.
#
# `teacher_ckpt` is the official checkpoint in the layout of this
# classifier (timm keys 'head.fc.*' stay, every other key gets
# 'backbone.timm_model.'), made once with:
#
#   python -c "import torch; sd = torch.load('regnety_160-a5fe301d.pth', \
#     map_location='cpu', weights_only=True); sd = sd.get('model', sd); \
#     torch.save({'state_dict': {(k if k.startswith('head.fc.') else \
#     'backbone.timm_model.' + k): v for k, v in sd.items()}}, \
#     'checkpoints/regnety_160_teacher.pth')"
#
# The checkpoint (a path or an URL) is loaded completely when the model is
# built (a missing file, or one that does not fill the teacher, is an
# error) and is not saved in the student's checkpoints.
teacher = dict(
    type='ImageClassifier',
    backbone=dict(
        type='TIMMBackbone', model_name='regnety_160', pretrained=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=3024))
teacher_ckpt = 'checkpoints/regnety_160_teacher.pth'
