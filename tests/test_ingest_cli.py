"""`flowkit ingest` and `flowkit keygen` as an operator runs them: messages, exit codes, keys,
mapping errors; and an ingester killed mid-file (SIGKILL), run again: every good row once."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from tests.conftest import BACKENDS
from tests.ingest_helpers import KEY, big_calls, calls_csv, mapping_file, private_key_file, pseudonym, write

from flowkit.cli import main
from flowkit.ingest.errors import IngestError
from flowkit.ingest.mapping import load_mapping
from flowkit.ingest.pseudonyms import KEY_VARIABLE

ROW = "255712000001,255712000002,2016-01-01 08:00:00,60,c1,MO,,,,"


@pytest.fixture
def key_file(tmp_path) -> Path:
    return private_key_file(tmp_path)


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env or {KEY_VARIABLE: ""})


def test_ingest_reports_each_file_and_fails_for_a_bad_one(tmp_path, key_file):
    data = tmp_path / "data"
    good = calls_csv(tmp_path / "calls_1.csv", ROW, ROW.replace("60", "-1"))
    empty = write(tmp_path / "calls_2.csv", "")
    result = run("ingest", "--data-dir", data, "--mapping", mapping_file(tmp_path), "--key-file", key_file, good, empty)
    assert result.exit_code == 1
    quarantine = data / "quarantine" / "calls_1.csv.quarantine.csv"
    assert f"calls_1.csv: loaded 1 rows of calls (2016-01-01), quarantined 1 ({quarantine})" in result.stdout
    assert "Error: calls_2.csv: the file is empty" in result.stderr
    again = run("ingest", "--data-dir", data, "--mapping", mapping_file(tmp_path), "--key-file", key_file, good)
    assert (again.exit_code, again.stdout) == (0, "calls_1.csv: already loaded (calls, 1 rows); nothing to do\n")
    with duckdb.connect(str(data / "flowdb.duckdb"), read_only=True) as db:
        assert db.sql("SELECT msisdn FROM events.calls").fetchall() == [(pseudonym("255712000001"),)]
        qa = "SELECT outcome FROM etl.deduped_post_etl_queries WHERE type_of_query_or_check = 'count_added_rows'"
        assert db.sql(qa).fetchall() == [("1",)]  # the QA checks ran for the file's date


def test_the_same_number_has_the_same_pseudonym_across_files_and_runs(tmp_path):
    data, rules = tmp_path / "data", mapping_file(tmp_path)
    env = {KEY_VARIABLE: KEY.hex()}
    assert (
        run(
            "ingest", "--data-dir", data, "--mapping", rules, calls_csv(tmp_path / "calls_1.csv", ROW), env=env
        ).exit_code
        == 0
    )
    other = ROW.replace("255712000001,255712000002", "255712000002,+255712000001").replace("08:00", "09:00")
    assert (
        run(
            "ingest", "--data-dir", data, "--mapping", rules, calls_csv(tmp_path / "calls_2.csv", other), env=env
        ).exit_code
        == 0
    )
    with duckdb.connect(str(data / "flowdb.duckdb"), read_only=True) as db:
        pairs = db.sql("SELECT msisdn, msisdn_counterpart FROM events.calls ORDER BY datetime").fetchall()
    one, two = pseudonym("255712000001"), pseudonym("255712000002")
    assert pairs == [(one, two), (two, one)]


def test_ingest_refuses_to_run_without_a_key(tmp_path):
    result = run(
        "ingest", "--data-dir", tmp_path, "--mapping", mapping_file(tmp_path), calls_csv(tmp_path / "calls_1.csv", ROW)
    )
    assert result.exit_code == 1
    assert f"no pseudonymisation key: set {KEY_VARIABLE} or give --key-file" in result.stderr
    assert not (tmp_path / "flowdb.duckdb").exists()


def test_key_file_readable_by_others_is_refused(tmp_path, key_file):
    key_file.chmod(0o644)
    result = run(
        "ingest",
        "--data-dir",
        tmp_path,
        "--mapping",
        mapping_file(tmp_path),
        "--key-file",
        key_file,
        calls_csv(tmp_path / "calls_1.csv", ROW),
    )
    assert result.exit_code == 1
    assert "key: the key file must be readable by its owner only (chmod 600; it is 644)" in result.stderr


def test_keygen_writes_a_private_key_once(tmp_path):
    path = tmp_path / "keys" / "pseudonyms.key"
    result = run("keygen", path)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text().strip()
    assert len(bytes.fromhex(text)) == 32
    again = run("keygen", path)
    assert again.exit_code == 1 and "keys are never overwritten" in again.stderr
    assert path.read_text().strip() == text


def test_the_type_comes_from_the_mapping_globs(tmp_path, key_file):
    odd = calls_csv(tmp_path / "unknown.csv", ROW)
    result = run("ingest", "--data-dir", tmp_path, "--mapping", mapping_file(tmp_path), "--key-file", key_file, odd)
    assert result.exit_code == 1
    assert (
        "unknown.csv: cannot tell the file's kind: its name matches no section's `files` glob; give --type"
        in result.stderr
    )
    typed = run(
        "ingest",
        "--data-dir",
        tmp_path,
        "--mapping",
        mapping_file(tmp_path),
        "--key-file",
        key_file,
        "--type",
        "calls",
        odd,
    )
    assert typed.exit_code == 0, typed.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[calls]\n[calls.columns]\nmsisdn = "A"\ndatetime = "T"\nmsisd = "B"\n',
            "mapping.toml: bad mapping: calls.columns.msisd: not a column of calls",
        ),
        ('timezone = "Mars/Olympus"\n', "mapping.toml: bad mapping: timezone: unknown time zone 'Mars/Olympus'"),
        (
            '[sms]\ndelimeter = ";"\n[sms.columns]\nmsisdn = "A"\ndatetime = "T"\n',
            "bad mapping: sms.delimeter: Extra inputs are not permitted",
        ),
        ('[mds]\n[mds.columns]\nmsisdn = "A"\n', "bad mapping: mds.columns: required column(s) not mapped: datetime"),
        (
            'on_existing_date = "merge"\n',
            "bad mapping: on_existing_date: Input should be 'append', 'replace' or 'refuse'",
        ),
        ("[calls.columns\n", "mapping.toml: not valid TOML"),
        (
            '[calls]\n[calls.columns]\nmsisdn = "A"\ndatetime = "T"\n[calls.values.msisdn]\ntrue = ["x"]\nfalse = []\n',
            "calls.values.msisdn: not a boolean column of calls",
        ),
    ],
)
def test_mapping_errors_name_the_file_and_key(tmp_path, text, message):
    path = write(tmp_path / "mapping.toml", text)
    with pytest.raises(IngestError) as raised:
        load_mapping(path)
    assert message in str(raised.value)


def test_yaml_mapping(tmp_path):
    path = write(
        tmp_path / "mapping.yaml",
        """
        timezone: Africa/Nairobi
        calls:
          files: "calls_*"
          columns: {msisdn: A, datetime: T, outgoing: D}
          values:
            outgoing: {true: [MO], false: [MT]}
        """,
    )
    rules = load_mapping(path)
    assert rules.calls.values["outgoing"].true == ["MO"]
    assert rules.kind_of(Path("calls_1.csv.gz")) == "calls"


# -- killed mid-file ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_mid_file_then_run_again_loads_every_row_once(tmp_path, key_file, backend, request):
    rows = 500_000
    big = tmp_path / "calls_big.csv"
    big_calls(big, rows)
    cells = write(tmp_path / "cells.csv", "CELL_ID,VERSION,SITE,LON,LAT,FROM,TO\nc1,1,s,1,1,,\nc2,1,s,2,2,,\n")
    small = calls_csv(tmp_path / "calls_small.csv", ROW)
    target = ["--db", request.getfixturevalue("postgres_url")] if backend == "postgres" else []
    if backend == "postgres":
        from tests.conftest import emptied

        emptied(request.getfixturevalue("postgres_flowdb"))
    command = [sys.executable, "-m", "flowkit.cli", "ingest", "--data-dir", str(tmp_path / "data"), *target]
    command += ["--mapping", str(mapping_file(tmp_path)), "--key-file", str(key_file), "--progress"]
    files = [str(cells), str(small), str(big)]
    process = subprocess.Popen(
        command + files, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ
    )
    for line in process.stderr:  # the first batch of the big file is in, uncommitted
        if line.startswith("calls_big.csv:") and "rows read" in line:
            break
    else:
        pytest.fail(f"the ingester ended before loading the big file: {process.communicate()}")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert "calls_small.csv: loaded 1 rows" in process.stdout.read()

    def counts():
        from flowkit.db import connect_flowdb

        db = connect_flowdb(target[1] if target else tmp_path / "data" / "flowdb.duckdb")
        try:
            calls = db.execute("SELECT count(*), count(DISTINCT (msisdn, datetime)) FROM events.calls").fetchall()[0]
            files = db.execute("SELECT file_name FROM etl.ingested_files ORDER BY file_name").fetchall()
            return tuple(calls), [f for (f,) in files]
        finally:
            db.close()

    assert counts() == ((1, 1), ["calls_small.csv", "cells.csv"])  # nothing of the big file
    again = subprocess.run(command + files, capture_output=True, text=True, env=os.environ)
    assert again.returncode == 0, again.stderr
    assert "calls_small.csv: already loaded" in again.stdout
    assert f"calls_big.csv: loaded {rows:,} rows of calls" in again.stdout
    assert counts() == ((rows + 1, rows + 1), ["calls_big.csv", "calls_small.csv", "cells.csv"])
