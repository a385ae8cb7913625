# Arch-Net (Xu et al. 2021, "Arch-Net: Model Distillation for Architecture
# Agnostic Model Deployment", https://arxiv.org/abs/2111.01135) for
# ResNet-34: the ResNet-18 recipe (archnet-resnet18_8xb32_in1k.py) with a
# ResNet-34 student of 2-bit 3x3 convolutions, 4-bit activations and an
# 8-bit classifier (mmvitplug.ArchNetResNet arch 'resnet34'), distilled
# without labels from the full-precision torchvision ResNet-34
# (IMAGENET1K_V1, 73.30% top-1, the official resnet34-333f7ec4.pth).
# Official: 72.40% top-1 / 91.01% top-5 (2w4a).
# Source: megvii-research/Arch-Net (f43bab2) train_imagenet/
# train_archnet_resnet34.py and README; it differs from
# train_archnet_resnet18.py only in:
# - the student and the teacher (16 basic blocks: 50 outputs, stem, 3 per
#   block, logits) and so 50 periods: 60, 10 (x48) and 5110 "epochs" of 32
#   iterations (8 x 32 images) = 5650 x 32 = 180800 iterations;
# - no Mixup.
# The teacher checkpoint is torchvision's in the layout of the
# ImageClassifier below ('fc.*' -> 'head.fc.*', every other key under
# 'backbone.'), made once with:
#   python -c "import torch, torchvision; sd = torchvision.models.resnet34( \
#     weights='IMAGENET1K_V1').state_dict(); torch.save({'state_dict': { \
#     ('head.' + k if k.startswith('fc.') else 'backbone.' + k): v \
#     for k, v in sd.items()}}, 'checkpoints/resnet34_tv_teacher.pth')"
_base_ = ['./archnet-resnet18_8xb32_in1k.py']

teacher = dict(backbone=dict(depth=34))
teacher_ckpt = 'checkpoints/resnet34_tv_teacher.pth'
model = dict(
    backbone=dict(arch='resnet34'),
    teacher=teacher,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(depths=[3, 4, 6, 3]))
# no Mixup
data_preprocessor = dict(batch_augments=None)

archnet_periods = [_base_.epoch_iters * e for e in [60] + [10] * 48 + [5110]]
param_scheduler = dict(periods=archnet_periods)
custom_hooks = [
    dict(type='mmvitplug.ArchNetPeriodHook', periods=archnet_periods)
]
train_cfg = dict(max_iters=sum(archnet_periods))
