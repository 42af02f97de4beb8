"""docs/ingestion.md stays true: its mapping example loads, its options exist."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from flowkit.cli import main
from flowkit.ingest.mapping import load_mapping

DOC = Path(__file__).parent.parent / "docs" / "ingestion.md"


def test_the_documented_mapping_loads(tmp_path):
    example = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S).group(1)
    path = tmp_path / "mapping.toml"
    path.write_text(example)
    mapping = load_mapping(path)
    assert mapping.kind_of(Path("calls_20160101.csv.gz")) == "calls"
    assert mapping.kind_of(Path("adm1_tza.geojson")) == "admin1"
    assert {k for k in ("calls", "sms", "mds", "topups", "cells", "tacs") if getattr(mapping, k)} == {
        "calls",
        "sms",
        "mds",
        "topups",
        "cells",
        "tacs",
    }


def test_the_documented_options_exist():
    help_text = "".join(
        CliRunner().invoke(main, [*command, "--help"]).output for command in (["ingest"], ["ingest", "watch"])
    )
    documented = set(re.findall(r"`(--[a-z-]+)", DOC.read_text()))
    assert documented and all(option in help_text for option in documented), documented
