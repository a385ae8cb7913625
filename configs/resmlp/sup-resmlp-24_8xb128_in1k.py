# ResMLP-S24 trained on ImageNet-1k without a teacher
# (https://arxiv.org/abs/2105.03404; 79.4 top-1 in the paper). Same recipe
# as sup-resmlp-12_8xb128_in1k.py; LayerScale starts at 1e-5 (arch default).
_base_ = './sup-resmlp-12_8xb128_in1k.py'

model = dict(backbone=dict(arch='resmlp-24'))
