# ResMLP-S24 trained on ImageNet-1k without a teacher
# (https://arxiv.org/abs/2105.03404; 79.4 top-1 in the paper). Same recipe
# as sup-resmlp-12_8xb128_in1k.py; LayerScale starts at 1e-5 (arch default).
# Stochastic depth 0.1: the first author adapts it to the depth "as in CaiT"
# (facebookresearch/deit#106) and gives 0.1 for the 24-layer model against
# 0.05 for the 12-layer one in his CIFAR recipe (facebookresearch/deit#117);
# the ImageNet value for S24 is not published in a form we could read.
# Source: first author, facebookresearch/deit#106 and #117 (our reading
# for the drop path).
_base_ = './sup-resmlp-12_8xb128_in1k.py'

model = dict(backbone=dict(arch='resmlp-24', drop_path_rate=0.1))
