# The ablation of Arch-Net's blockwise progressive distillation at digits
# scale: the same 2w4a student, teacher, initialisation from the teacher,
# Mixup, optimizer and learning-rate restarts as
# archnet-resnet18-w32_1xb64_digits.py, but one loss from the first
# iteration: 1 - cosine(student logits, teacher logits) (ArchNetLoss with a
# single output), no intermediate output, no adapter, no label.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./archnet-resnet18-w32_1xb64_digits.py']

model = dict(
    distiller=dict(
        _delete_=True,
        recorders=dict(
            logits=dict(source='head'), teacher_logits=dict(source='teacher')),
        losses=dict(
            loss_archnet=dict(type='mmvitplug.ArchNetLoss', num_outputs=1)),
        loss_inputs=dict(
            loss_archnet=dict(
                student=['logits'], teacher=['teacher_logits']))))
# one output: no period to step
custom_hooks = []
