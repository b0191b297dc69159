"""Where the shared GS1 vectors live (``../shared/vectors`` beside the project); never copied into it.

Every test that reads them goes through :func:`require_vectors` (or checks :data:`PRESENT`), so
outside the tracebus workplace they skip with one stated reason — and only there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"
HASH_VECTORS = VECTORS / "epcis-event-hash"
SKIP_REASON = "shared vectors not present (outside the tracebus workplace)"
PRESENT = VECTORS.is_dir()


def require_vectors(path: Path = VECTORS) -> Path:
    """``path`` (a folder or file under the vectors); skips the calling test when the vectors are absent."""
    if not path.exists():
        pytest.skip(SKIP_REASON)  # the only skip: conditional on running outside the workplace
    return path
