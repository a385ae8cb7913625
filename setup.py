from setuptools import find_packages, setup


def _version():
    ns = {}
    with open('mmvitplug/version.py') as f:
        exec(f.read(), ns)
    return ns['__version__']


setup(
    name='mmvitplug',
    version=_version(),
    description='Vision transformers and their training methods '
    '(distillation, self-supervised pretraining) for OpenMMLab',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmvitplug', 'mmvitplug.*']),
    python_requires='>=3.9',
    # The OpenMMLab stack is pinned and checked by tools/setup_env.sh
    # (mmcv must be built against the installed torch); only pure-python
    # needs are declared here so `pip install -e .` never pulls a torch.
    install_requires=[],
    license='Apache-2.0',
)
