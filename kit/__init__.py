"""mthinker-kit: reproduce M-Thinker ("Think Natively", arXiv 2510.07300) on one GPU.

Importing ``kit`` is cheap: no torch, no unsloth, no downloads. Heavy modules import lazily.
"""

__version__ = "0.1.0"
