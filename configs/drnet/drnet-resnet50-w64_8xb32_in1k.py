# DRNet (Zhu et al. 2021, "Dynamic Resolution Network", NeurIPS 2021,
# https://arxiv.org/abs/2106.02898): DR-ResNet-50 on ImageNet-1k.
# - the official evaluation setting (mindspore-ai/models research/cv/DRNet
#   eval.py, 77.4% top-1 with the released checkpoints): candidate
#   resolutions 224 / 168 / 112, the resolution predictor
#   (`predictor([1, 1, 1, 1])`: one basic block per stage, 64 to 512
#   channels) on the image resized to 128 x 128, the ResNet-50 classifier
#   with one BatchNorm per resolution;
# - training: the official release has no training code and the paper's
#   text gives the objective only (cross-entropy of the chosen resolution's
#   logits + eta x (E[FLOPs] / alpha - 1)^2, Gumbel-softmax choices). The
#   recipe below is UNVERIFIED: the training schedule of the baseline the
#   paper compares with (torchvision's ResNet-50, 76.1%: SGD momentum 0.9,
#   lr 0.1 at batch 256, weight decay 1e-4 on every parameter, 90 epochs,
#   lr x0.1 every 30), the FLOPs target 0.66 of the cost at 224 (the
#   paper's "about 34% computation reduction" at similar accuracy) and
#   eta 1.0 are our choices, not published values;
# - data: RandomResizedCrop 224 + flip; evaluation: short edge 256, centre
#   crop 224 (the classifier resizes the crop to the chosen resolution,
#   as the official eval.py resizes its 224 input).
# Source: paper (arXiv 2106.02898, section 3) and the official evaluation
# release (mindspore-ai/models research/cv/DRNet: eval.py, src/predictor.py,
# src/classifier.py, src/gumbelmodule.py); the schedule is unverified.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='mmvitplug.DRNetClassifier',
    backbone=dict(type='ResNet', depth=50),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    predictor=dict(type='mmvitplug.ResolutionPredictor', depth=10),
    resolutions=[224, 168, 112],
    predictor_size=128,
    flops_loss=dict(
        type='mmvitplug.DRNetFLOPsLoss', target=0.66, loss_weight=1.0),
    tau=1.0)

epochs = 90
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, begin=0, end=epochs,
    milestones=[30, 60], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256, enable=True)
