"""The published OpenAPI document, pinned: any change to the wire shows up in review.

After an intended change, refresh it with `UPDATE_SNAPSHOTS=1 uv run pytest tests/test_openapi_snapshot.py`.
"""

import json
import os
from pathlib import Path

from flowkit.api.openapi import openapi_document

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"


def test_openapi_document_matches_snapshot():
    document = json.loads(json.dumps(openapi_document("flowkit-demo", "snapshot"), sort_keys=True))
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    assert document == json.loads(SNAPSHOT.read_text())
