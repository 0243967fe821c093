"""The model families, one module each: plug-ins of the one training loop.

A family module defines its configuration class (a
:class:`~otlab.gan.config.LoopConfig` whose class attribute ``family`` is the
module's name) and its :class:`~otlab.gan.family.Family`, exported as
``FAMILY``.  :func:`otlab.gan.family.family_for` imports the module a
configuration names; nothing else in :mod:`otlab.gan` imports a family, and no
family imports another.

- :mod:`~otlab.gan.families.unconditional`: a GAN/WGAN on any data set, any loss;
- :mod:`~otlab.gan.families.conditional`: the conditional GAN;
- :mod:`~otlab.gan.families.infogan`: InfoGAN;
- :mod:`~otlab.gan.families.pix2pix`: paired image-to-image translation.
"""
