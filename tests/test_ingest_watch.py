"""`flowkit ingest watch DIR`: files dropped into a landing folder are loaded, then archived or
rejected, one JSON log line per step; files are taken only once stable; a watcher killed
mid-file (SIGKILL) and started again loads every good row exactly once; SIGTERM lets the current
file finish."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from structlog.testing import capture_logs
from tests.ingest_helpers import (
    KEY,
    big_calls,
    calls_csv,
    mapping,
    mapping_file,
    private_key_file,
    pseudonymiser,
    write,
)

from flowkit.cli import main
from flowkit.db import connect_flowdb
from flowkit.ingest import watch as watch_module
from flowkit.ingest.load import ingest_file
from flowkit.ingest.pseudonyms import KEY_VARIABLE
from flowkit.ingest.watch import Folders, Watcher

ROW = "255712000001,255712000002,2016-01-01 08:00:00,60,c1,MO,,,,"
AT_NINE = ROW.replace("08:00", "09:00")


class Deployment:
    """A landing folder, a data dir, a mapping and a key: what `flowkit ingest watch` is given."""

    def __init__(self, root: Path):
        self.root, self.landing, self.data = root, root / "landing", root / "data"
        self.landing.mkdir()
        self.mapping, self.key = mapping_file(root), private_key_file(root)

    def command(self, *extra) -> list[str]:
        return ["ingest", "watch", "--data-dir", str(self.data), "--mapping", str(self.mapping)] + [
            "--key-file",
            str(self.key),
            *map(str, extra),
            str(self.landing),
        ]

    def watch_once(self, *extra):
        """Run `--once` in this process: the result and its log lines, parsed."""
        result = CliRunner().invoke(main, self.command("--interval", "0.05", "--once", *extra), env={KEY_VARIABLE: ""})
        return result, [json.loads(line) for line in result.stdout.splitlines()]

    def rows(self, sql: str = "SELECT count(*) FROM events.calls"):
        with duckdb.connect(str(self.data / "flowdb.duckdb"), read_only=True) as db:
            return db.sql(sql).fetchall()

    def archived(self) -> list[str]:
        return sorted(p.name for p in (self.landing / "archive").glob("*/*"))

    def left(self, folder: str = "") -> list[str]:
        return sorted(p.name for p in (self.landing / folder).iterdir() if p.is_file())


@pytest.fixture
def site(tmp_path) -> Deployment:
    return Deployment(tmp_path)


def steps(events: list[dict]) -> list[tuple[str, str | None]]:
    return [(e["event"], e.get("file")) for e in events]


def only(events: list[dict], name: str) -> dict:
    (found,) = [e for e in events if e["event"] == name]
    return found


def test_a_good_file_is_loaded_archived_and_logged(site):
    calls_csv(site.landing / "calls_1.csv", ROW, AT_NINE, ROW.replace(",60,", ",-1,"))
    result, events = site.watch_once()
    assert result.exit_code == 0, result.output
    name = "calls_1.csv"
    assert steps(events) == [
        ("started", None),
        ("seen", name),
        ("taken", name),
        ("read", name),
        ("loaded", name),
        ("archived", name),
        ("stopped", None),
    ]
    assert all(e["level"] in ("info", "warning", "error") and e["timestamp"].endswith("Z") for e in events)
    loaded = only(events, "loaded")
    assert (loaded["kind"], loaded["rows_loaded"], loaded["rows_quarantined"]) == ("calls", 2, 1)
    assert (loaded["first_date"], loaded["last_date"]) == ("2016-01-01", "2016-01-01")
    assert loaded["quarantine"] == str(site.data / "quarantine" / "calls_1.csv.quarantine.csv")
    archived = only(events, "archived")["to"]
    assert Path(archived).parent.parent == site.landing / "archive" and Path(archived).is_file()
    assert site.left() == [] and site.left("processing") == [] and site.archived() == [name]
    assert site.rows() == [(2,)]
    qa = "SELECT outcome FROM etl.deduped_post_etl_queries WHERE type_of_query_or_check = 'count_added_rows'"
    assert site.rows(qa) == [("2",)]  # the QA checks ran, as after `flowkit ingest`
    assert "255712000001" not in result.stdout and KEY.hex() not in result.stdout


def test_malformed_files_are_rejected_with_the_reason_and_nothing_loaded(site):
    write(site.landing / "calls_2.csv", "A_NUMBER,START_TIME\n255712000001,2016-01-01 08:00:00\n")
    write(site.landing / "mystery.csv", "a,b\n1,2\n")
    calls_csv(site.landing / "calls_3.csv", ROW.replace(",,,,", ",,,123456789,"))  # its only row: a bad TAC
    result, events = site.watch_once()
    assert result.exit_code == 0, result.output
    rejected = {e["file"]: e for e in events if e["event"] == "rejected"}
    assert sorted(rejected) == ["calls_2.csv", "calls_3.csv", "mystery.csv"]
    assert rejected["calls_2.csv"]["reason"].startswith("wrong column set: missing column(s) B_NUMBER")
    assert rejected["mystery.csv"]["reason"] == (
        "cannot tell the file's kind: its name matches no section's `files` glob; "
        "rename it, or change the mapping's `files` globs"
    )
    # a value in a reason is shown in the log only if short; the .error.txt has the whole message
    assert "tac: '<number>' is not a whole number" in rejected["calls_3.csv"]["reason"]
    folder = site.landing / "rejected"
    assert sorted(p.name for p in folder.iterdir()) == [
        "calls_2.csv",
        "calls_2.csv.error.txt",
        "calls_3.csv",
        "calls_3.csv.error.txt",
        "mystery.csv",
        "mystery.csv.error.txt",
    ]
    assert (
        (folder / "calls_3.csv.error.txt")
        .read_text()
        .startswith("calls_3.csv: no row passed the checks (first: line 2: tac: '123456789' is not a whole number")
    )
    assert "wrong column set" in (folder / "calls_2.csv.error.txt").read_text()
    assert rejected["calls_2.csv"]["to"] == str(folder / "calls_2.csv")
    assert site.rows() == [(0,)]
    assert site.rows("SELECT count(*) FROM etl.ingested_files") == [(0,)]
    assert site.left() == [] and site.left("processing") == [] and site.archived() == []


def test_a_rejected_name_dropped_again_does_not_overwrite_the_first(site):
    for _ in range(2):
        write(site.landing / "calls_2.csv", "A_NUMBER\n1\n")
        assert site.watch_once()[0].exit_code == 0
    assert sorted(p.name for p in (site.landing / "rejected").iterdir()) == [
        "calls_2-2.csv",
        "calls_2-2.csv.error.txt",
        "calls_2.csv",
        "calls_2.csv.error.txt",
    ]


def test_the_same_file_dropped_twice_is_archived_as_already_loaded_and_loaded_once(site):
    original = calls_csv(site.root / "calls_1.csv", ROW, AT_NINE)
    shutil.copy(original, site.landing)
    assert site.watch_once()[0].exit_code == 0
    shutil.copy(original, site.landing)
    result, events = site.watch_once()
    assert result.exit_code == 0, result.output
    assert steps(events)[1:-1] == [(step, "calls_1.csv") for step in ("seen", "taken", "already_loaded", "archived")]
    assert only(events, "already_loaded")["rows_loaded"] == 2
    assert site.archived() == ["calls_1-2.csv", "calls_1.csv"]
    assert site.rows() == [(2,)]


def test_a_growing_file_is_taken_only_once_unchanged_over_a_look(tmp_path):
    landing = tmp_path / "landing"
    growing = calls_csv(landing / "calls_1.csv", ROW)
    write(landing / "calls_2.csv.part", "a copy still being written\n")
    write(landing / ".calls_3.csv", "a hidden file\n")
    watcher = Watcher(
        Folders.of(landing),
        mapping(tmp_path),
        lambda: connect_flowdb(tmp_path / "flowdb.duckdb"),
        pseudonymiser=pseudonymiser(),
        quarantine_dir=tmp_path / "quarantine",
    )
    (landing / "processing").mkdir()
    with capture_logs() as logs:
        watcher.poll()  # first seen
        assert growing.exists()
        with open(growing, "a") as file:
            file.write(AT_NINE + "\n")
        watcher.poll()  # changed since the last look
        assert growing.exists()
        watcher.poll()  # unchanged
    assert not growing.exists()
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("seen", "info"),
        ("taken", "info"),
        ("read", "info"),
        ("loaded", "info"),
        ("archived", "info"),
    ]
    assert only(logs, "loaded")["rows_loaded"] == 2
    assert sorted(p.name for p in landing.iterdir() if p.is_file()) == [".calls_3.csv", "calls_2.csv.part"]


def test_reference_files_are_taken_before_event_files(site):
    calls_csv(site.landing / "calls_1.csv", ROW, ROW.replace(",c1,", ",c9,"))
    write(site.landing / "cells.csv", "CELL_ID,VERSION,SITE,LON,LAT,FROM,TO\nc1,1,s,1,1,,\n")
    os.utime(site.landing / "calls_1.csv", ns=(1, 1))  # the older file: still after the cells
    result, events = site.watch_once()
    assert result.exit_code == 0, result.output
    assert [e["file"] for e in events if e["event"] == "taken"] == ["cells.csv", "calls_1.csv"]
    loaded = [e for e in events if e["event"] == "loaded"]
    assert [(e["kind"], e["rows_loaded"], e["rows_quarantined"]) for e in loaded] == [
        ("cells", 1, 0),
        ("calls", 1, 1),  # c9 is not a known cell
    ]


def test_a_file_left_in_processing_by_a_crash_is_loaded_at_the_next_start(site):
    calls_csv(site.landing / "processing" / "calls_1.csv", ROW, AT_NINE)
    result, events = site.watch_once()
    assert result.exit_code == 0, result.output
    assert steps(events)[1:4] == [("resumed", "calls_1.csv"), ("read", "calls_1.csv"), ("loaded", "calls_1.csv")]
    assert site.rows() == [(2,)] and site.archived() == ["calls_1.csv"] and site.left("processing") == []


def test_a_file_committed_just_before_a_crash_is_archived_and_its_checks_run(site):
    """Killed after the commit, before the QA checks and the move: found loaded, checked, archived."""
    left = calls_csv(site.landing / "processing" / "calls_1.csv", ROW)
    site.data.mkdir()
    db = connect_flowdb(site.data / "flowdb.duckdb")
    try:
        ingest_file(db, left, "calls", mapping(site.root), pseudonymiser=pseudonymiser(), quarantine_dir=site.root)
    finally:
        db.close()
    qa = "SELECT outcome FROM etl.deduped_post_etl_queries WHERE type_of_query_or_check = 'count_added_rows'"
    assert site.rows(qa) == []
    result, events = site.watch_once()
    assert result.exit_code == 0, result.output
    assert steps(events)[1:4] == [("resumed", left.name), ("already_loaded", left.name), ("archived", left.name)]
    assert site.rows(qa) == [("1",)] and site.rows() == [(1,)]


def test_an_unexpected_error_leaves_the_file_in_processing_to_be_tried_again(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    (landing / "processing").mkdir(parents=True)
    calls_csv(landing / "calls_1.csv", ROW)
    calls = []

    def flaky(*args, **kwargs):  # the FlowDB's server went away, once
        calls.append(1)
        if len(calls) == 1:
            raise OSError("connection to server lost while loading 255712000001")
        return ingest_file(*args, **kwargs)

    monkeypatch.setattr(watch_module, "ingest_file", flaky)
    watcher = Watcher(
        Folders.of(landing),
        mapping(tmp_path),
        lambda: connect_flowdb(tmp_path / "flowdb.duckdb"),
        pseudonymiser=pseudonymiser(),
        quarantine_dir=tmp_path / "quarantine",
    )
    with capture_logs() as logs:
        watcher.poll()
        watcher.poll()  # taken; fails
        assert watcher.failed and [p.name for p in (landing / "processing").iterdir()] == ["calls_1.csv"]
        watcher.poll()  # tried again
    error = only(logs, "error")
    assert (error["file"], error["error"]) == ("calls_1.csv", "OSError")
    assert error["reason"] == "connection to server lost while loading <number>"
    assert [e["event"] for e in logs][-4:] == ["resumed", "read", "loaded", "archived"]
    assert list((landing / "processing").iterdir()) == []


def test_failed_qa_checks_are_logged_and_the_loaded_file_archived(tmp_path):
    landing = tmp_path / "landing"
    (landing / "processing").mkdir(parents=True)
    calls_csv(landing / "calls_1.csv", ROW)

    def failing_checks(db, kind, dates):
        raise RuntimeError("no QA today")

    watcher = Watcher(
        Folders.of(landing),
        mapping(tmp_path),
        lambda: connect_flowdb(tmp_path / "flowdb.duckdb"),
        pseudonymiser=pseudonymiser(),
        quarantine_dir=tmp_path / "quarantine",
        on_loaded=failing_checks,
    )
    with capture_logs() as logs:
        watcher.poll()
        watcher.poll()
    assert [e["event"] for e in logs] == ["seen", "taken", "read", "error", "loaded", "archived"]
    assert "flowkit qa --run" in only(logs, "error")["what"]
    assert watcher.failed


def test_a_flowdb_that_cannot_be_opened_leaves_the_files_waiting(site):
    calls_csv(site.landing / "calls_1.csv", ROW)
    site.data.mkdir()
    result, events = site.watch_once("--db", site.data)  # a directory, not a DuckDB file
    assert result.exit_code == 1
    assert only(events, "error")["what"].startswith("cannot open the FlowDB")
    assert site.left() == ["calls_1.csv"] and site.left("processing") == []


def test_ingest_files_and_ingest_watch_share_one_command(site):
    help_text = CliRunner().invoke(main, ["ingest", "--help"], prog_name="flowkit").output
    assert "Usage: flowkit ingest [OPTIONS] FILES..." in help_text
    assert "or: flowkit ingest watch [OPTIONS] DIR" in help_text
    assert "--quarantine-dir" in help_text and "watch  Load files dropped into DIR" in help_text
    watch_help = CliRunner().invoke(main, ["ingest", "watch", "--help"]).output
    assert all(option in watch_help for option in ("--archive", "--rejected", "--interval", "--once"))
    no_files = CliRunner().invoke(main, ["ingest", "--mapping", str(site.mapping)])
    assert no_files.exit_code == 2 and "Missing argument 'FILES...'" in no_files.output


# -- a watcher process: signals ----------------------------------------------------------------------


def start(site: Deployment, *extra) -> subprocess.Popen:
    command = [sys.executable, "-m", "flowkit.cli", *site.command("--interval", "0.1", *extra)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)


def wait_for(process: subprocess.Popen, event: str, file: str | None = None) -> list[dict]:
    """Log lines up to the first `event` (of `file`)."""
    seen = []
    for line in process.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == event and (file is None or seen[-1].get("file") == file):
            return seen
    pytest.fail(f"the watcher ended before {event}: {seen}, {process.stderr.read()}")


def test_sigterm_stops_an_idle_watcher_at_once(site):
    process = start(site)
    try:
        wait_for(process, "started")
        process.send_signal(signal.SIGTERM)
        last = [json.loads(line) for line in process.stdout][-1]
        process.wait(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0
    assert (last["event"], last["signal"]) == ("stopped", "SIGTERM")


def drop(path: Path, landing: Path) -> None:
    """Copy in under a temporary name, then rename: the way to drop a big file."""
    partial = landing / (path.name + ".part")
    shutil.copy(path, partial)
    partial.rename(landing / path.name)


@pytest.mark.slow
def test_sigterm_mid_file_lets_the_file_finish(site):
    rows = 500_000
    big_calls(site.root / "calls_big.csv", rows)
    process = start(site)
    try:
        wait_for(process, "started")
        drop(site.root / "calls_big.csv", site.landing)
        wait_for(process, "read", "calls_big.csv")  # the first batch is in, uncommitted
        process.send_signal(signal.SIGTERM)
        events = [json.loads(line) for line in process.stdout]  # until the watcher exits
        process.wait(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, process.stderr.read()
    assert [e["event"] for e in events][-3:] == ["loaded", "archived", "stopped"]
    assert site.rows() == [(rows,)] and site.archived() == ["calls_big.csv"]


@pytest.mark.slow
def test_killed_mid_file_then_started_again_loads_every_row_once(site):
    rows = 500_000
    big_calls(site.root / "calls_big.csv", rows)
    calls_csv(site.landing / "calls_small.csv", ROW)
    process = start(site)
    try:
        wait_for(process, "archived", "calls_small.csv")
        drop(site.root / "calls_big.csv", site.landing)
        wait_for(process, "read", "calls_big.csv")  # the first batch is in, uncommitted
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    assert site.left("processing") == ["calls_big.csv"]  # as the crash left it
    assert site.rows("SELECT file_name FROM etl.ingested_files") == [("calls_small.csv",)]
    assert site.rows() == [(1,)]  # nothing of the big file

    result, events = site.watch_once()
    assert result.exit_code == 0, result.output
    assert only(events, "resumed")["file"] == "calls_big.csv"
    assert only(events, "loaded")["rows_loaded"] == rows
    distinct = "SELECT count(*), count(DISTINCT (msisdn, datetime)) FROM events.calls"
    assert site.rows(distinct) == [(rows + 1, rows + 1)]
    assert site.archived() == ["calls_big.csv", "calls_small.csv"] and site.left("processing") == []
