# TransKD-GL (https://arxiv.org/abs/2202.13393; official train/
# CSF_GLMixer.py): what it changes in TransKD-Base's distiller
# (./transkd.py): the stage-4 student patch embedding goes through the
# Global-Local Mixer (mmvitplug.GLMixerConnector: attention with MiT-B0's 8
# stage-4 heads + a gated 1-D convolution over the tokens, no residual: the
# official `--add` is off) before its PEA projection. The official mixer
# weights are uninitialised memory; here both start at 1 and train. A
# TransKD-Base config's child inherits it and sets
#     model = dict(distiller=_base_.transkd_gl)
transkd_gl = dict(
    connectors=dict(
        glmixer=dict(
            type='mmvitplug.GLMixerConnector',
            channels=256,  # MiT-B0's stage 4
            num_heads=8)),
    loss_inputs=dict(
        loss_pea4=dict(preds=dict(connector=['glmixer', 'pea4']))))
