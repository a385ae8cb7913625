# Fine-tune the ImageNet-22k InternImage-XL at 384 on ImageNet-1k
# (https://arxiv.org/abs/2211.05778; 88.0 top-1, 335M parameters in the
# official README): the recipe of sup-internimage-l-384_32xb16_in1k.py
# (32 GPUs x 16 as the README; the same approximations of the layer-wise
# decay and the 22k head) with the official
# internimage_xl_22kto1k_384.yaml's differences: stochastic depth 0.2;
# arch 'internimage-xl' (1536 channels in the last level).
# Source: official classification/configs/internimage_xl_22kto1k_384.yaml
# and README.md (32 GPUs x 16).
pretrained = ('https://huggingface.co/OpenGVLab/InternImage/resolve/main/'
              'internimage_xl_22k_192to384.pth')

_base_ = ['./sup-internimage-l-384_32xb16_in1k.py']

model = dict(
    backbone=dict(
        arch='internimage-xl',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=pretrained)),
    head=dict(
        in_channels=1536,
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=2e-5, bias=0.),
            dict(
                type='mmvitplug.Pretrained',
                checkpoint=pretrained,
                prefix='head.',
                converter='InternImage'),
        ]),
)
