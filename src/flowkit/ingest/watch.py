"""Watching a landing folder: files dropped there are loaded, then archived or rejected.

`flowkit ingest watch DIR` looks at DIR every few seconds. A file is taken once it is stable:
its size and modification time unchanged since the last look (names starting with '.' or ending
in .tmp or .part are never taken, so a file can be copied in under such a name and renamed when
complete). A taken file is renamed into DIR/processing/, loaded by `ingest_file` exactly as
`flowkit ingest` loads it, then moved to the archive (`<archive>/<YYYY-MM-DD, UTC>/`: loaded, or
already loaded) or to the rejected folder with `<name>.error.txt` beside it saying why. Nothing
already in the archive or rejected folder is overwritten: a second `calls.csv` becomes
`calls-2.csv`.

Restarts: files in processing/ (left by a crash mid-file, or by an error such as a lost database
connection) are loaded again first, at every look; the loader's transaction and checksum ledger
make that exactly once. SIGTERM or SIGINT lets the current file finish, then the watcher stops.

Each step is one JSON log line (structlog): started, seen, taken, resumed, read, loaded,
already_loaded, archived, rejected, error, stopped. Lines name files and give counts, never
identifiers or the key; in a reason, runs of seven or more digits are shown as `<number>` (the
full message is in the .error.txt).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import structlog

from flowkit.ingest import ledger
from flowkit.ingest.columns import EVENT_TABLES
from flowkit.ingest.errors import IngestError
from flowkit.ingest.load import OnLoaded, Outcome, ingest_file
from flowkit.ingest.mapping import Mapping
from flowkit.ingest.pseudonyms import Pseudonymiser

log = structlog.get_logger("flowkit.ingest.watch")

TEMPORARY_SUFFIXES = (".tmp", ".part")
_LONG_NUMBER = re.compile(r"\+?\d{7,}")


@dataclass(frozen=True)
class Folders:
    """Where files arrive (`landing`), are loaded (`landing/processing`) and end up."""

    landing: Path
    archive: Path
    rejected: Path

    @classmethod
    def of(cls, landing: Path, archive: Path | None = None, rejected: Path | None = None) -> Folders:
        """The folders of a landing folder: archive/ and rejected/ in it unless given."""
        return cls(landing, archive or landing / "archive", rejected or landing / "rejected")

    @property
    def processing(self) -> Path:
        return self.landing / "processing"


class Watcher:
    """Loads the files of a landing folder, one look (`poll`) at a time.

    `open_db` opens the FlowDB; it is open only while a look has files to load, so other
    commands can use a DuckDB FlowDB in between.
    """

    def __init__(
        self,
        folders: Folders,
        mapping: Mapping,
        open_db: Callable[[], object],
        *,
        pseudonymiser: Pseudonymiser | None = None,
        quarantine_dir: Path,
        on_loaded: OnLoaded | None = None,
    ):
        self.folders, self.mapping, self.open_db = folders, mapping, open_db
        self.pseudonymiser, self.quarantine_dir, self.on_loaded = pseudonymiser, quarantine_dir, on_loaded
        self.failed = False  # an error was logged (a file left waiting, the FlowDB not opened, QA checks failed)
        self.stopping = False
        self._looked: dict[Path, tuple[int, int]] = {}  # landing file: (size, mtime) at the last look

    def run(self, interval: float, *, once: bool = False) -> None:
        """Look every `interval` seconds until SIGTERM, SIGINT or `stop()` (the current file
        finishes first); with `once`, look twice, `interval` apart, and return."""
        self.folders.processing.mkdir(parents=True, exist_ok=True)
        log.info("started", landing=str(self.folders.landing), interval=interval, once=once)
        with self._stop_on_signals() as received:
            self.poll()
            while self._sleep(interval):
                self.poll()
                if once:
                    break
        log.info("stopped", signal=received[0] if received else None)

    def stop(self) -> None:
        self.stopping = True

    def poll(self) -> None:
        """One look: files left in processing/ first, then landing files unchanged since the last look."""
        left = _files(self.folders.processing)
        ready = self._stable()
        if not (left or ready) or self.stopping:
            return
        try:
            db = self.open_db()
        except Exception as error:  # held by another process, server down, ...: the files wait
            self._error(None, "cannot open the FlowDB; the files wait for the next look", error)
            return
        try:
            for path in left:
                if self.stopping:
                    return
                log.info("resumed", file=path.name)
                if not self._process(db, path, resumed=True):
                    return
            for path in ready:
                if self.stopping:
                    return
                taken = self._take(path)
                if taken is not None and not self._process(db, taken):
                    return
        finally:
            db.close()

    def _stable(self) -> list[Path]:
        """Landing files unchanged since the last look: reference files first (events are checked
        against the cells), then oldest first."""
        now = {}
        for path in _files(self.folders.landing):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            now[path] = (info.st_size, info.st_mtime_ns)
            if path not in self._looked:
                log.info("seen", file=path.name, size=info.st_size)
        ready = [path for path, signature in now.items() if self._looked.get(path) == signature]
        self._looked = now
        return sorted(ready, key=lambda path: (self._is_event(path), now[path][1], path.name))

    def _is_event(self, path: Path) -> bool:
        try:
            return self.mapping.kind_of(path) in EVENT_TABLES
        except IngestError:
            return True

    def _take(self, path: Path) -> Path | None:
        size, _ = self._looked.pop(path)
        target = self.folders.processing / path.name
        try:
            os.rename(path, target)  # within DIR: atomic
        except FileNotFoundError:
            return None  # removed since the look
        log.info("taken", file=path.name, size=size)
        return target

    def _process(self, db, path: Path, *, resumed: bool = False) -> bool:
        """Load a file in processing/ and move it on; False if an error left it there."""
        try:
            try:
                kind = self.mapping.kind_of(path, otherwise="rename it, or change the mapping's `files` globs")
                outcome = ingest_file(
                    db,
                    path,
                    kind,
                    self.mapping,
                    pseudonymiser=self.pseudonymiser,
                    quarantine_dir=self.quarantine_dir,
                    on_loaded=partial(self._checks, path) if self.on_loaded else None,
                    progress=lambda rows: log.info("read", file=path.name, rows=rows),
                )
            except IngestError as error:
                self._reject(path, error)
                return True
            self._report(outcome)
            if resumed and outcome.status == "already loaded":
                self._checks_again(db, path, outcome.kind)
            self._archive(path)
        except Exception as error:
            self._error(path, "not loaded; it stays in processing/ and is tried again at the next look", error)
            return False
        return True

    def _report(self, outcome: Outcome) -> None:
        name = outcome.file.name
        if outcome.status == "already loaded":
            log.info("already_loaded", file=name, kind=outcome.kind, rows_loaded=outcome.rows_loaded)
            return
        log.info(
            "loaded",
            file=name,
            kind=outcome.kind,
            rows_loaded=outcome.rows_loaded,
            rows_quarantined=outcome.rows_quarantined,
            quarantine=str(outcome.quarantine) if outcome.quarantine else None,
            first_date=outcome.dates[0].isoformat() if outcome.dates else None,
            last_date=outcome.dates[-1].isoformat() if outcome.dates else None,
            policy=outcome.policy,
        )

    def _checks(self, path: Path, db, kind: str, dates: list[date]) -> None:
        """The `on_loaded` hook (QA checks) once a file is committed. Its failure is logged and the
        file archived all the same: its rows are in (`flowkit qa --run` computes the checks)."""
        try:
            self.on_loaded(db, kind, dates)
        except Exception as error:
            self._error(path, "loaded, but its QA checks failed; run `flowkit qa --run`", error)

    def _checks_again(self, db, path: Path, kind: str) -> None:
        """A file found loaded when resumed was committed before a crash, perhaps before its QA
        checks ran: run them for its dates (a newer outcome replaces an older one)."""
        if self.on_loaded is None or kind not in EVENT_TABLES:
            return
        from flowkit.ingest.qa import loaded_dates

        record = ledger.loaded(db, ledger.checksum(path))
        if record is None or record.first_date is None:
            return
        dates = [d for d in loaded_dates(db, [kind]).get(kind, []) if record.first_date <= d <= record.last_date]
        if dates:
            self._checks(path, db, kind, dates)

    def _archive(self, path: Path) -> None:
        folder = self.folders.archive / datetime.now(UTC).date().isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        target = _free(folder, path.name)
        shutil.move(path, target)
        log.info("archived", file=path.name, to=str(target))

    def _reject(self, path: Path, error: IngestError) -> None:
        self.folders.rejected.mkdir(parents=True, exist_ok=True)
        target = _free(self.folders.rejected, path.name)
        target.with_name(target.name + ".error.txt").write_text(f"{error}\n")  # first: a crash here retries the file
        shutil.move(path, target)
        log.warning("rejected", file=path.name, reason=_loggable(error.message), line=error.line, to=str(target))

    def _error(self, path: Path | None, what: str, error: Exception) -> None:
        self.failed = True
        log.error(
            "error",
            file=path.name if path else None,
            what=what,
            error=type(error).__name__,
            reason=_loggable(str(error)),
        )

    def _sleep(self, seconds: float) -> bool:
        """Wait `seconds` in short steps, so that a stop is seen quickly; False if stopped."""
        deadline = time.monotonic() + seconds
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))
        return not self.stopping

    @contextmanager
    def _stop_on_signals(self) -> Iterator[list[str]]:
        """SIGTERM and SIGINT set `stopping` (the handler only sets flags: logging there could
        deadlock on the log's lock); yields the names of the signals received."""
        received: list[str] = []
        if threading.current_thread() is not threading.main_thread():
            yield received
            return

        def handler(number, frame):
            received.append(signal.Signals(number).name)
            self.stopping = True

        previous = {number: signal.signal(number, handler) for number in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield received
        finally:
            for number, old in previous.items():
                signal.signal(number, old)


def _files(folder: Path) -> list[Path]:
    """The files of `folder` a watcher takes (not hidden, not temporary), by name."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    return sorted(
        Path(entry.path)
        for entry in entries
        if entry.is_file() and not entry.name.startswith(".") and not entry.name.lower().endswith(TEMPORARY_SUFFIXES)
    )


def _free(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/<stem>-2.<suffixes>`, -3, ... when taken: nothing is overwritten."""
    stem, dot, suffixes = name.partition(".")
    target, number = folder / name, 1
    while target.exists():
        number += 1
        target = folder / f"{stem}-{number}{dot}{suffixes}"
    return target


def _loggable(text: str) -> str:
    """A message with long digit runs (subscriber numbers, IMEIs, IMSIs a reader may echo) hidden."""
    return _LONG_NUMBER.sub("<number>", text)


__all__ = ["Folders", "TEMPORARY_SUFFIXES", "Watcher"]
