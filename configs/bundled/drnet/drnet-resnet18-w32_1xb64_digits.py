# DRNet (Zhu et al. 2021, "Dynamic Resolution Network",
# https://arxiv.org/abs/2106.02898) on the bundled digits (10 classes,
# 32x32): the half-width ResNet-18 of configs/_teachers/resnet18-w32_digits.py
# (stride-4 stem) as the classifier, every BatchNorm made
# resolution-specific for the candidate resolutions 32 / 24 / 16 px, and a
# resolution predictor (mmvitplug.ResolutionPredictor: one basic block per
# stage, 16 to 128 channels, the official predictor's layout at a quarter
# of its width) that sees the images at 16 px. Trained from scratch, jointly:
# the head's cross-entropy on the logits of the resolution a hard Gumbel
# sample chose per image + the FLOPs constraint (target 0.6 of the cost at
# 32 px, weight 1.0); at inference each image runs once, at its arg-max
# resolution. Its peer (the Proof): configs/bundled/resnet/
# sup-resnet18-w32_1xb64_digits.py, the same classifier at the fixed 32 px
# on the same schedule (SGD Nesterov, lr 0.1, cosine over 6 epochs);
# tools/analysis/drnet_claims.py trains both and prints top-1, the average
# FLOPs per image and the predictor's choices.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = '../../_base_/common/resnet18-w32_1xb64_digits.py'

model = dict(
    type='mmvitplug.DRNetClassifier',
    predictor=dict(
        type='mmvitplug.ResolutionPredictor',
        depth=10,
        stem_channels=16,
        base_channels=16),
    resolutions=[32, 24, 16],
    predictor_size=16,
    flops_loss=dict(
        type='mmvitplug.DRNetFLOPsLoss', target=0.6, loss_weight=1.0),
    tau=1.0)
