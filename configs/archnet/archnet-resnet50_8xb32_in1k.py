# Arch-Net (Xu et al. 2021, "Arch-Net: Model Distillation for Architecture
# Agnostic Model Deployment", https://arxiv.org/abs/2111.01135) for
# ResNet-50: the ResNet-18 recipe (archnet-resnet18_8xb32_in1k.py) with a
# ResNet-50 student of 2-bit 3x3 convolutions, 4-bit activations and an
# 8-bit classifier (mmvitplug.ArchNetResNet arch 'resnet50': bottlenecks
# whose 1x1 convolutions are 3x3, concatenation merges in 1, 2, 4 and 8
# groups, first units and the last downsampling split so that no
# convolution sees more than 512 channels), distilled without labels from
# the full-precision torchvision ResNet-50 (IMAGENET1K_V1, 76.13% top-1,
# the official resnet50-19c8e357.pth). Official: 74.56% top-1 / 92.39%
# top-5 (2w4a).
# Source: megvii-research/Arch-Net (f43bab2) train_imagenet/
# train_archnet_resnet50.py, models/students/resnet50.py and README; the
# script differs from train_archnet_resnet18.py only in:
# - the student and the teacher (16 bottlenecks: 66 outputs, stem, 4 per
#   block, logits) and so 66 periods: 60, 10 (x64) and 5110 "epochs" of 32
#   iterations (8 x 32 images) = 5810 x 32 = 185920 iterations;
# - the initialisation from the teacher also centres the bottlenecks' 1x1
#   convolutions in the student's 3x3 ones (the split first units and the
#   split last downsampling stay randomly initialised, as officially).
# One difference from the official student: its second stage's blocks
# (QuantizeBottleneckV2) discard their merge (resnet50.py line 417), so
# that they have no identity path; ours merge there as everywhere else
# (see mmvitplug.ArchNetResNet).
# The teacher checkpoint is torchvision's in the layout of the
# ImageClassifier below ('fc.*' -> 'head.fc.*', every other key under
# 'backbone.'), made once with:
#   python -c "import torch, torchvision; sd = torchvision.models.resnet50( \
#     weights='IMAGENET1K_V1').state_dict(); torch.save({'state_dict': { \
#     ('head.' + k if k.startswith('fc.') else 'backbone.' + k): v \
#     for k, v in sd.items()}}, 'checkpoints/resnet50_tv_teacher.pth')"
_base_ = ['./archnet-resnet18_8xb32_in1k.py']

teacher = dict(backbone=dict(depth=50), head=dict(in_channels=2048))
teacher_ckpt = 'checkpoints/resnet50_tv_teacher.pth'
model = dict(
    backbone=dict(arch='resnet50'),
    head=dict(in_channels=2048),
    teacher=teacher,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(depths=[3, 4, 6, 3], block='bottleneck'))

archnet_periods = [_base_.epoch_iters * e for e in [60] + [10] * 64 + [5110]]
param_scheduler = dict(periods=archnet_periods)
custom_hooks = [
    dict(type='mmvitplug.ArchNetPeriodHook', periods=archnet_periods)
]
train_cfg = dict(max_iters=sum(archnet_periods))
