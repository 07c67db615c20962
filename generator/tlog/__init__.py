"""RFC 9162 Merkle trees and the C2SP formats: signed notes, checkpoints, tiles, proofs.

This package knows nothing of SMKI and imports nothing from the rest of
``generator``: a relying party can use it as a library on its own.
"""
