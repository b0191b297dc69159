"""Where the shared GS1 vectors live (``../shared/vectors`` beside the project); never copied into it."""

from __future__ import annotations

from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"
SKIP_REASON = "shared vectors not present (outside the tracebus workplace)"


def require_vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.skip(SKIP_REASON)
    return VECTORS
