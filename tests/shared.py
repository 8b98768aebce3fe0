"""The project's shared folder beside the clone (`../shared/`), which a clean clone may lack.

It holds the Serverless Workflow 0.8 spec's examples that several test modules run. Tests
that need it are marked `needs_examples` and skip, saying why, when it is absent.
XFLOW_SHARED_DIR points elsewhere (a CI that unpacks it in another place).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(
    os.environ.get("XFLOW_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared"
)
EXAMPLES = SHARED / "sw08" / "examples"

needs_examples = pytest.mark.skipif(
    not EXAMPLES.is_dir(),
    reason=f"the spec's examples are not at {EXAMPLES} (../shared/ beside the clone, or set "
    "XFLOW_SHARED_DIR)",
)
