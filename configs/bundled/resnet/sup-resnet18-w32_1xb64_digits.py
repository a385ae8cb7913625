# Convnet TEACHER on the bundled digits (10 classes, 32x32): ResNet-18 at
# half width (stem and base channels 32; _teachers/resnet18-w32_digits.py).
# Its stride-4 stem brings the 4x-upsampled digits back to their native 8x8
# grid, so it trains in well under a CPU minute. Its last checkpoint
# (work_dirs/sup-resnet18-w32_1xb64_digits/epoch_6.pth) is the teacher of
# the bundled distillation configs. SGD with Nesterov momentum, lr 0.1,
# cosine over 6 epochs.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = '../../_base_/common/resnet18-w32_1xb64_digits.py'
