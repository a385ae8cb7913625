# The baseline of Divide and Co-training at digits scale, convnet version:
# the WIDE digits ResNet-18-w32 (stem and base channels 32, as
# bundled/resnet/sup-resnet18-w32_1xb64_digits.py; 2.801M parameters)
# trained alone, with the shifts, Mixup (alpha 0.2), batch, SGD and 6-epoch
# schedule of dct-resnet18-w23_1xb64-6e_digits.py (its S = 2 division into
# two ResNet-18-w23, co-trained) and the undivided weight decay 5e-4; one
# shift per image, cross-entropy on the (mixed) labels.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./dct-resnet18-w23_1xb64-6e_digits.py']

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(
        type='ResNet', depth=18, stem_channels=32, base_channels=32),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
data_preprocessor = dict(type='ClsDataPreprocessor')
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'), _base_.crop,
        dict(type='PackInputs')
    ]))
optim_wrapper = dict(optimizer=dict(weight_decay=5e-4))
custom_hooks = []
