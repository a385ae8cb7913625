# Teacher of the bundled-digits distillation configs: ResNet-18 at half
# width (base and stem channels 32 instead of 64) for the 10 digit classes.
# Source: bundled-data smoke model, not a paper recipe. Trained by
# configs/bundled/resnet/sup-resnet18-w32_1xb64_digits.py, whose last
# checkpoint is `teacher_ckpt` (tools/run_demo.py passes the one it has just
# trained with `--cfg-options model.teacher_ckpt=PATH`).
teacher = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet', depth=18, stem_channels=32, base_channels=32),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=256))
teacher_ckpt = 'work_dirs/sup-resnet18-w32_1xb64_digits/epoch_6.pth'
