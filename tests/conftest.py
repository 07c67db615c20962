"""Shared test fixtures: where the project and the shared vectors live."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VECTORS = SHARED / "vectors"
SAMPLES = SHARED / "smki-samples"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The shared test-vector folder (``../shared/vectors``); never copied in."""
    if not VECTORS.is_dir():
        raise RuntimeError(
            f"test vectors not found at {VECTORS}: shared/ must sit beside the project"
        )
    return VECTORS


@pytest.fixture(scope="session")
def samples() -> Path:
    """The real public SMKI test certificates (``../shared/smki-samples``)."""
    if not SAMPLES.is_dir():
        raise RuntimeError(f"SMKI samples not found at {SAMPLES}")
    return SAMPLES
