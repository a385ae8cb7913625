# Teacher of the locality-guidance configs on CIFAR-100 (Li et al., ECCV
# 2022, https://arxiv.org/abs/2207.10026): the CNN "guidance model" trained
# on the 32x32 CIFAR-100 images, whose stage outputs the vision transformer
# imitates.
# Source: official repository lkhl/tiny-transformers,
# configs/resnet/r-56_c100.yaml (teacher) and pycls/models/cnns/resnet.py.
#
# DEVIATION: the official teacher is the 3-stage CIFAR ResNet-56 (3x3
# stride-1 stem of 16 channels, 9 basic blocks per stage of 16 / 32 / 64
# channels, 0.86M parameters). mmpretrain cannot express it: its
# `ResNet_CIFAR` takes the blocks per stage only from the ImageNet depths
# (18 / 34 / 50 / ...). This teacher is the closest mmpretrain CIFAR ResNet
# with the official interface: `ResNet_CIFAR` depth 34 cut to its first 3
# stages (3 / 4 / 6 basic blocks, i.e. a ResNet-28, 0.52M parameters) with
# the same stem and 16 / 32 / 64 channels. Its stages (backbone.layer1-3)
# have the official channels and grids at 32 px (16 x 32x32, 32 x 16x16,
# 64 x 8x8), so the guidance pairs, connectors and resize sizes are those
# of the official recipe; only the teacher's depth (and accuracy) differs.
#
# `teacher_ckpt` is this classifier trained on CIFAR-100 with the official
# r-56_c100.yaml recipe (the DeiT config's TEACHER_WEIGHTS
# work_dirs/r-56_c100/model.pyth): softmax cross-entropy (no label
# smoothing, no Mixup / CutMix), SGD lr 0.1, momentum 0.9 (Nesterov),
# weight decay 5e-4 except on biases and BN, cosine to 0 over 300 epochs,
# no warm-up, batch 128, on 32 px images with the student's augmentation
# (pycls datasets/transforms.py at IMG_SIZE 32: RandomResizedCrop 32
# bicubic, flip, RandAugment rand-m9-mstd0.5-inc1, RandomErasing 0.25) and
# the ImageNet mean / std (the student's normalisation, which the teacher
# must expect). E.g. `tools/train.py` on a config with
# `model = dict(_base_.teacher, head=dict(_base_.teacher.head,
# loss=dict(type='CrossEntropyLoss')))`, the data of
# locality_guidance/lg-deit-tiny_1xb128-300e_cifar100.py at scale 32 and
# the schedule above; save its last checkpoint as `teacher_ckpt`. The
# checkpoint is loaded completely when the student is built and is not
# saved in the student's checkpoints.
teacher = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=34,
        num_stages=3,
        stem_channels=16,
        base_channels=16,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(2, ),
        # pycls: ZERO_INIT_FINAL_BN_GAMMA False
        zero_init_residual=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=100, in_channels=64))
teacher_ckpt = 'checkpoints/resnet56_cifar100_teacher.pth'
