"""smki-transparency: a governed, verifiable SMKI Repository.

The package is layered (DESIGN §6): ``tlog`` (RFC 9162 and C2SP primitives,
knows nothing of SMKI) → ``repository`` (policy, authorisations, governance,
git history) → ``site`` and ``client`` → ``build`` → ``cli``.
"""

__version__ = "0.1.0"
