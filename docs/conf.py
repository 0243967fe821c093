"""Sphinx configuration for the otlab documentation."""

import otlab

project = "otlab"
author = "the otlab developers"
copyright = "the otlab developers"  # the footer names the owner
# no "smart" dashes and quotes: "--quick" stays two ASCII hyphens, so commands copy-paste
smartquotes = False
release = otlab.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # ships MathJax 3 with the pages: formulas render offline
    "sphinx.ext.viewcode",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_typehints = "none"
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "otlab"
nitpicky = False
