# Fine-tune the 224px CvT-21 at 384px on ImageNet-1k (83.3 top-1 in the
# official README): the recipe of sup-cvt-13-384_8xb64_in1k.py (CvT paper
# sec. 4.1 / ViT's fine-tuning: SGD momentum 0.9, batch 512, 20,000 steps
# = 8 epochs, cosine, no weight decay, gradient clipping 1; lr 0.003 NOT
# PUBLISHED, the unused FINETUNE.BASE_LR default of the official code);
# stochastic depth (0, 0, 0.1) per stage and evaluation as the official
# cvt-21-384x384.yaml.
#
# `pretrained` is the 224px checkpoint: the checkpoint of
# sup-cvt-21_8xb128_in1k.py (mmvitplug layout), or the official
# CvT-21-224x224-IN-1k.pth of microsoft/CvT (converted on load, backbone
# and head).
# Source: CvT paper sec. 4.1 (fine-tuning), ViT paper Table 4, official
# microsoft/CvT cvt-21-384x384.yaml and lib/config/default.py (f851e68).
pretrained = 'pretrain/CvT-21-224x224-IN-1k.pth'

_base_ = ['./sup-cvt-13-384_8xb64_in1k.py']

model = dict(
    backbone=dict(
        arch='cvt-21', init_cfg=dict(checkpoint=pretrained)),
    head=dict(init_cfg=dict(checkpoint=pretrained)),
)
