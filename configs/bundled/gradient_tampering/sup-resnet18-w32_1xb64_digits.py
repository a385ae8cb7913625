# The cross-entropy baseline of softmax gradient tampering at digits scale,
# convnet version: ResNet-18 at half width (stem and base channels 32, as
# bundled/resnet/sup-resnet18-w32_1xb64_digits.py) trained from scratch
# with mmpretrain's CrossEntropyLoss: batch 64, shifts of up to 2 pixels,
# SGD with Nesterov momentum, lr 0.1, weight decay 5e-4, cosine over 6
# epochs. sgt-resnet18-w32_1xb64_digits.py changes only the loss.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = '../../_base_/common/resnet18-w32_1xb64_digits.py'
