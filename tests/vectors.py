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
    """``path`` (a folder or file under the vectors).

    Skips the calling test only when the whole vectors folder is absent (outside the workplace); a file
    missing from vectors that are present is a failure, never a skip.
    """
    if not PRESENT:
        pytest.skip(SKIP_REASON)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the shared vectors at {VECTORS}")
    return path
