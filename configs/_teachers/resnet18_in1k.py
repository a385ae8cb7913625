# Teacher of the single-image distillation config on ImageNet-1k: the
# torchvision ResNet-18 (69.76% top-1) the official code downloads
# (https://arxiv.org/abs/2112.00725; in1k/distill.py --teacher_arch
# resnet18) as an mmpretrain ImageClassifier.
# Source: single-image distillation official code (teacher choice).
#
# `teacher_ckpt` is torchvision's checkpoint in the layout of this
# classifier (mmpretrain's ResNet has torchvision's key names: 'fc.*'
# becomes 'head.fc.*', every other key gets 'backbone.'), made once with:
#
#   python -c "import torch, torchvision; sd = torchvision.models.resnet18( \
#     weights='IMAGENET1K_V1').state_dict(); torch.save({'state_dict': { \
#     ('head.' + k if k.startswith('fc.') else 'backbone.' + k): v \
#     for k, v in sd.items()}}, 'checkpoints/resnet18_tv_teacher.pth')"
teacher = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512))
teacher_ckpt = 'checkpoints/resnet18_tv_teacher.pth'
