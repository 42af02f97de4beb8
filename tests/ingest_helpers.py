"""Small hand-built operator files and mappings for the ingestion tests."""

from __future__ import annotations

import hashlib
import hmac
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from flowkit.ingest.mapping import load_mapping
from flowkit.ingest.pseudonyms import Pseudonymiser

KEY = bytes(range(32))

MAPPING = """
timezone = "Africa/Dar_es_Salaam"
on_existing_date = "{policy}"

[calls]
files = "calls_*"
datetime_format = "%Y-%m-%d %H:%M:%S"
ignore_columns = ["NOTE"]
[calls.columns]
msisdn = "A_NUMBER"
msisdn_counterpart = "B_NUMBER"
datetime = "START_TIME"
duration = "DURATION"
location_id = "CELL"
outgoing = "DIRECTION"
imei = "IMEI"
imsi = "IMSI"
tac = "TAC"
[calls.values.outgoing]
true = ["MO"]
false = ["MT"]

[sms]
files = "sms_*"
datetime_format = "%d/%m/%Y %H:%M"
timezone = "UTC"
[sms.columns]
msisdn = "msisdn"
msisdn_counterpart = "other"
datetime = "time"
outgoing = "outgoing"
location_id = "cell"

[mds]
files = "mds_*"
[mds.columns]
msisdn = "msisdn"
datetime = "datetime"
volume_total = "volume"
imei = "imei"

[topups]
files = "topups_*"
[topups.columns]
msisdn = "msisdn"
datetime = "datetime"
recharge_amount = "amount"
imsi = "imsi"

[cells]
files = "cells*"
[cells.columns]
id = "CELL_ID"
version = "VERSION"
site_id = "SITE"
longitude = "LON"
latitude = "LAT"
date_of_first_service = "FROM"
date_of_last_service = "TO"

[tacs]
files = "tacs*"
[tacs.columns]
id = "tac"
brand = "brand"
model = "model"
hnd_type = "type"

[admin.admin1]
files = "adm1*"
pcod = "ADM1_PCODE"
name = "ADM1_EN"
parent = "ADM0_PCODE"
"""

CALLS_HEADER = "A_NUMBER,B_NUMBER,START_TIME,DURATION,CELL,DIRECTION,IMEI,IMSI,TAC,NOTE"


def pseudonym(value: str) -> str:
    """The expected pseudonym, computed here independently of flowkit."""
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()


def pseudonymiser() -> Pseudonymiser:
    return Pseudonymiser(KEY)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def private_key_file(directory: Path) -> Path:
    """KEY in a key file readable by its owner only, as `flowkit keygen` writes one."""
    path = directory / "secret" / "key"
    path.parent.mkdir()
    path.write_text(KEY.hex() + "\n")
    path.chmod(0o600)
    return path


def mapping_file(directory: Path, policy: str = "append", name: str = "mapping.toml") -> Path:
    return write(directory / name, MAPPING.format(policy=policy))


def mapping(directory: Path, policy: str = "append"):
    return load_mapping(mapping_file(directory, policy))


def calls_csv(path: Path, *rows: str) -> Path:
    return write(path, "\n".join([CALLS_HEADER, *rows]) + "\n")


def big_calls(path: Path, rows: int) -> None:
    """`rows` distinct calls (subscriber, time) over one day, > 64 MiB so that they are read in more than one batch."""
    n = np.arange(rows)
    subscriber = n % 50_000  # (n mod 50,000, n mod 86,400) differ for n < 2,160,000
    table = pa.table(
        {
            "A_NUMBER": pa.array((255700000000 + subscriber).astype(str)),
            "B_NUMBER": pa.array((255712000000 + n % 5000).astype(str)),
            "START_TIME": pa.compute.strftime(
                pa.array(np.datetime64("2016-01-01T03:00:00") + (n % 86400).astype("timedelta64[s]")),
                "%Y-%m-%d %H:%M:%S",
            ),
            "DURATION": pa.array((n % 600).astype(str)),
            "CELL": pa.array(np.where(n % 2 == 0, "c1", "c2")),
            "DIRECTION": pa.array(np.where(n % 3 == 0, "MO", "MT")),
            "IMEI": pa.array((350000000000000 + subscriber).astype(str)),
            "IMSI": pa.array((640040000000000 + subscriber).astype(str)),
            "TAC": pa.array((35000000 + n % 100).astype(str)),
            "NOTE": pa.array(np.full(rows, "padding" * 12)),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
    assert path.stat().st_size > 64 << 20


def quarantined(path: Path) -> list[tuple[int, str]]:
    """(line, reason) of each row of a quarantine file."""
    import csv

    with open(path, newline="") as file:
        return [(int(row["line"]), row["reason"]) for row in csv.DictReader(file)]
