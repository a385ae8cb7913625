# Fine-tune an ImageNet-22k pre-trained CvT-W24 at 384px on ImageNet-1k
# (87.6 top-1 in the official README, 87.7 in the paper): the recipe of
# sup-cvt-13-384_8xb64_in1k.py (CvT paper sec. 4.1 / ViT's fine-tuning:
# SGD momentum 0.9, batch 512, 20,000 steps = 8 epochs, cosine, no weight
# decay, gradient clipping 1; lr 0.003 NOT PUBLISHED, the unused
# FINETUNE.BASE_LR default of the official code); stochastic depth
# (0, 0, 0.3) per stage and evaluation as the official
# cvt-w24-384x384.yaml. As in ViT, the 21k-class head is not loaded: the
# 1000-class head starts from zeros.
#
# `pretrained` is the ImageNet-22k checkpoint of CvT-W24: microsoft/CvT
# releases only the fine-tuned CvT-W24-384x384-IN-22k.pth (already on
# ImageNet-1k), so this is a placeholder for a 22k pre-training run, in the
# official layout (converted on load) or mmvitplug's; only its backbone is
# loaded.
# Source: CvT paper sec. 4.1 (fine-tuning), ViT paper appendix B.1.1 /
# Table 4, official microsoft/CvT cvt-w24-384x384.yaml and
# lib/config/default.py (f851e68).
pretrained = 'pretrain/CvT-W24-224x224-IN-22k.pth'

_base_ = ['./sup-cvt-13-384_8xb64_in1k.py']

model = dict(
    backbone=dict(
        arch='cvt-w24',
        drop_path_rate=[0., 0., 0.3],
        init_cfg=dict(checkpoint=pretrained)),
    head=dict(
        in_channels=1024,
        init_cfg=dict(
            _delete_=True, type='Constant', layer='Linear', val=0.,
            bias=0.)),
)
