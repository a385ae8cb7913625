# Arch-Net's distiller for a ResNet-18 student (mmvitplug.ArchNetResNet) and
# its mmpretrain ResNet-18 teacher (https://arxiv.org/abs/2111.01135;
# megvii-research/Arch-Net train_archnet_resnet18.py). 26 outputs of each,
# in network order: the stem (s0 / t0), per basic block three (the block's
# first unit, its second unit, its output), the logits (s25 / t25).
#
# Teacher targets are recorded as in the official teacher: `bn1` is
# ReLU-ed in place by mmpretrain's BasicBlock, so it records ReLU(BN1); `bn2`
# is modified in place by `out += identity` and the ReLU, so it records the
# block output, like the official "BN2" target (the official aliasing:
# targets 3b - 1 and 3b of block b are the same tensor).
#
# Each student block output goes through a training-only adapter
# (mmvitplug.ArchNetAdapterConnector, gated by the teacher map) before the
# MSE; the stem and the logits are compared directly. Widths of the adapters
# are ResNet-18's (64, 128, 256, 512): a narrower student redefines
# `archnet_connectors` with its widths (see bundled/archnet).
archnet_blocks = [(stage, block) for stage in range(4) for block in range(2)]
archnet_widths = [64, 128, 256, 512]
archnet_student = ['backbone.stem'] + [
    f'backbone.stages.{s}.{b}{unit}' for s, b in archnet_blocks
    for unit in ('.conv1', '.conv2', '')
] + ['head']
archnet_teacher = ['teacher.backbone.maxpool'] + [
    f'teacher.backbone.layer{s + 1}.{b}{unit}' for s, b in archnet_blocks
    for unit in ('.bn1', '.bn2', '')
] + ['teacher']
archnet_connectors = {
    f'a{k}': dict(
        type='mmvitplug.ArchNetAdapterConnector',
        channels=archnet_widths[archnet_blocks[(k - 1) // 3][0]])
    for k in range(1, 25)
}
archnet_distiller = dict(
    recorders=dict(
        **{f's{k}': dict(source=src)
           for k, src in enumerate(archnet_student)},
        **{f't{k}': dict(source=src)
           for k, src in enumerate(archnet_teacher)}),
    connectors=archnet_connectors,
    losses=dict(
        loss_archnet=dict(type='mmvitplug.ArchNetLoss', num_outputs=26)),
    loss_inputs=dict(
        loss_archnet=dict(
            student=['s0'] + [
                dict(recorder=[f's{k}', f't{k}'], connector=f'a{k}')
                for k in range(1, 25)
            ] + ['s25'],
            teacher=[f't{k}' for k in range(26)])))
