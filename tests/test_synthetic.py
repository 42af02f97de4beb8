"""The synthetic country: deterministic, geographically exact, and with the structure FlowKit
queries rely on (paired calls, valid cell versions, consistent top-ups, a visible crisis)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
import shapely

from flowkit.db import FlowDB
from flowkit.db.schema import EVENT_TYPES
from flowkit.db.synthetic import SyntheticConfig, generate

SMALL = SyntheticConfig(subscribers=1000, end_date=date(2016, 1, 10), crisis_date=date(2016, 1, 6), cells=300)
TABLES = [f"geography.admin{level}" for level in range(4)] + [
    "infrastructure.sites",
    "infrastructure.cells",
    "infrastructure.tacs",
    "geography.cell_admin_units",
    *(f"events.{t}" for t in EVENT_TYPES),
]
# each event with the admin3 of the cell version in service on the event's date
VALID_VERSION = """e.location_id = u.location_id AND e.datetime::DATE >= u.date_of_first_service
    AND (u.date_of_last_service IS NULL OR e.datetime::DATE <= u.date_of_last_service)"""
LOCATED = " UNION ALL ".join(
    f"SELECT e.msisdn, e.datetime, u.admin3pcod FROM events.{t} e JOIN geography.cell_admin_units u ON {VALID_VERSION}"
    for t in EVENT_TYPES
)


@pytest.fixture(scope="module")
def synthetic():
    db = FlowDB()
    summary = generate(db, SMALL)
    yield db, summary
    db.close()


def fingerprint(db: FlowDB) -> dict[str, str]:
    """A hash of every table's rows in insertion order."""
    return {t: scalar(db, f"SELECT md5(string_agg(t::VARCHAR, chr(10) ORDER BY rowid)) FROM {t} t") for t in TABLES}


def scalar(db: FlowDB, sql: str, parameters=None):
    return db.execute(sql, parameters).fetchall()[0][0]


def test_same_seed_gives_identical_tables_and_another_seed_does_not(synthetic):
    db, _ = synthetic
    again, other = FlowDB(), FlowDB()
    generate(again, SMALL)
    generate(other, replace(SMALL, seed=SMALL.seed + 1))
    expected = fingerprint(db)
    assert fingerprint(again) == expected
    assert {t for t, h in fingerprint(other).items() if h != expected[t]} == set(TABLES)


def test_generate_refuses_a_filled_flowdb(synthetic):
    with pytest.raises(ValueError, match="not empty"):
        generate(synthetic[0], SMALL)


def test_summary_matches_tables(synthetic):
    db, summary = synthetic
    assert summary["rows"] == {t: scalar(db, f"SELECT count(*) FROM events.{t}") for t in EVENT_TYPES}
    assert summary["admin_units"] == {
        f"admin{n}": scalar(db, f"SELECT count(*) FROM geography.admin{n}") for n in range(4)
    }
    assert summary["cells"] == scalar(db, "SELECT count(DISTINCT id) FROM infrastructure.cells")
    assert len(summary["crisis_pcods"]) == SMALL.crisis_areas
    assert set(summary["crisis_pcods"]) <= {
        p for (p,) in db.execute("SELECT admin3pcod FROM geography.admin3").fetchall()
    }
    assert db.available_dates() == {t: [d.isoformat() for d in SMALL.days] for t in sorted(EVENT_TYPES)}


def test_admin_units_nest_exactly(synthetic):
    db, _ = synthetic
    parents = ["NULL", "admin0pcod", "admin1pcod", "admin2pcod"]
    units = {
        n: db.execute(f"SELECT admin{n}pcod, {parents[n]}, geom FROM geography.admin{n}").fetchall() for n in range(4)
    }
    assert len(units[0]) == 1 and len(units[3]) >= 60
    geoms = {pcod: shapely.from_wkb(bytes(g)) for level in units.values() for pcod, _, g in level}
    assert all(g.geom_type == "MultiPolygon" and g.is_valid for g in geoms.values())
    for level in (1, 2, 3):
        assert all(re.fullmatch(rf"XFK(\.\d+){{{level}}}_1", pcod) for pcod, _, _ in units[level])
        assert all(pcod.startswith(parent.removesuffix("_1") + ".") for pcod, parent, _ in units[level])
        for parent, _, _ in units[level - 1]:
            children = [geoms[p] for p, up, _ in units[level] if up == parent]
            assert children and all(child.within(geoms[parent]) for child in children)
            assert sum(c.area for c in children) == pytest.approx(geoms[parent].area, rel=1e-12)  # they tile it
            assert not len(shapely.STRtree(children).query(children, predicate="overlaps")[0])


def test_cells_sites_and_versions(synthetic):
    db, _ = synthetic
    assert scalar(db, "SELECT count(*) FROM geography.cell_admin_units WHERE admin3pcod IS NOT NULL") == scalar(
        db, "SELECT count(*) FROM infrastructure.cells"
    )
    assert scalar(db, "SELECT bool_and(regexp_full_match(id, '[A-Za-z0-9]{8}')) FROM infrastructure.cells")
    assert scalar(db, "SELECT bool_and(regexp_full_match(id, '[A-Za-z0-9]{6}')) FROM infrastructure.sites")
    assert not scalar(
        db, "SELECT count(*) FROM infrastructure.cells WHERE site_id NOT IN (SELECT id FROM infrastructure.sites)"
    )
    # a re-sited cell: version 0 until a day within the period, version 1 from the next day, elsewhere in the same admin3
    resited = db.execute("""
        SELECT v0.date_of_last_service, v1.date_of_first_service, v1.date_of_last_service,
            a0.admin3pcod = a1.admin3pcod, v0.geom_point <> v1.geom_point
        FROM infrastructure.cells v0 JOIN infrastructure.cells v1 ON v0.id = v1.id AND v0.version = 0 AND v1.version = 1
        JOIN geography.cell_admin_units a0 ON a0.location_id = v0.id AND a0.version = 0
        JOIN geography.cell_admin_units a1 ON a1.location_id = v1.id AND a1.version = 1
    """).fetchall()
    assert resited
    for last0, first1, last1, same_area, moved in resited:
        assert SMALL.start_date <= last0 < SMALL.end_date and (first1 - last0).days == 1
        assert last1 is None and same_area and moved
    assert scalar(db, "SELECT max(version) FROM infrastructure.cells") == 1
    started_late = "SELECT count(*) FROM infrastructure.cells WHERE version = 0 AND date_of_first_service >= ?"
    assert scalar(db, started_late, [SMALL.start_date]) == 0


@pytest.mark.parametrize("table", ["calls", "sms"])
def test_calls_and_sms_are_pairs(synthetic, table):
    db, _ = synthetic
    duration = "out.duration IS NOT DISTINCT FROM inc.duration" if table == "calls" else "true"
    bad = scalar(
        db,
        f"""
        SELECT count(*) FROM (SELECT id, count(*) AS n, sum(outgoing::INT) AS outgoing FROM events.{table} GROUP BY id)
        WHERE n <> 2 OR outgoing <> 1
    """,
    )
    assert bad == 0
    mismatched = scalar(
        db,
        f"""
        SELECT count(*) FROM events.{table} out
        JOIN events.{table} inc ON out.id = inc.id AND out.outgoing AND NOT inc.outgoing
        WHERE out.datetime <> inc.datetime OR out.msisdn <> inc.msisdn_counterpart OR out.msisdn_counterpart <> inc.msisdn
           OR out.msisdn = out.msisdn_counterpart OR NOT ({duration})
    """,
    )
    assert mismatched == 0


@pytest.mark.parametrize("table", EVENT_TYPES)
def test_every_event_has_one_valid_cell_version_and_a_handset(synthetic, table):
    db, _ = synthetic
    versions = db.execute(f"""
        SELECT count(*) FILTER (WHERE n <> 1), count(*) FROM (
            SELECT e.rowid, count(u.location_id) AS n
            FROM events.{table} e LEFT JOIN geography.cell_admin_units u ON {VALID_VERSION} GROUP BY e.rowid)
    """).fetchall()[0]
    assert versions[0] == 0 and versions[1] > 0
    unknown_handset = "tac NOT IN (SELECT id FROM infrastructure.tacs) OR imei IS NULL OR imsi IS NULL"
    assert scalar(db, f"SELECT count(*) FROM events.{table} WHERE {unknown_handset}") == 0
    rows_per_id = 2 if table in ("calls", "sms") else 1
    assert scalar(db, f"SELECT count(*) = {rows_per_id} * count(DISTINCT id) FROM events.{table}")


@pytest.mark.parametrize("table", EVENT_TYPES)
def test_events_are_stored_in_time_order(synthetic, table):
    db, _ = synthetic
    back = f"SELECT datetime < lag(datetime) OVER (ORDER BY rowid) AS back FROM events.{table}"
    assert scalar(db, f"SELECT count(*) FROM ({back}) WHERE back") == 0


def test_event_rates(synthetic):
    db, summary = synthetic
    per_subscriber_day = sum(summary["rows"].values()) / SMALL.subscribers / len(SMALL.days)
    assert 6 <= per_subscriber_day <= 9
    days = " UNION ".join(f"SELECT DISTINCT msisdn, datetime::DATE FROM events.{t}" for t in ("calls", "sms"))
    active = scalar(db, f"SELECT count(*) FROM ({days})")
    assert active > 0.9 * SMALL.subscribers * len(SMALL.days)


def test_topups_and_data_sessions_add_up(synthetic):
    db, _ = synthetic
    gap = "post_event_balance - (pre_event_balance + recharge_amount - airtime_fee - tax_and_fee)"
    assert scalar(db, f"SELECT max(abs({gap})) FROM events.topups") < 1e-9
    # the balance carries over: what is left before a top-up never exceeds what the previous one left
    assert (
        scalar(
            db,
            """
        SELECT count(*) FROM (
            SELECT pre_event_balance, lag(post_event_balance) OVER (PARTITION BY msisdn ORDER BY datetime) AS previous
            FROM events.topups
        ) WHERE pre_event_balance > previous
    """,
        )
        == 0
    )
    assert scalar(db, "SELECT max(abs(volume_total - volume_upload - volume_download)) FROM events.mds") < 1e-9


def test_crisis_empties_the_crisis_areas(synthetic):
    db, summary = synthetic
    crisis = SMALL.crisis_date.isoformat()
    shares = dict(
        db.execute(
            f"""
        WITH located AS ({LOCATED}),
        home AS (SELECT msisdn, mode(admin3pcod) AS home FROM located WHERE datetime < ?::TIMESTAMP GROUP BY msisdn)
        SELECT datetime >= ?::TIMESTAMP, avg((admin3pcod = home)::INT) FROM located JOIN home USING (msisdn)
        WHERE list_contains(?, home) GROUP BY ALL
    """,
            [crisis, crisis, summary["crisis_pcods"]],
        ).fetchall()
    )
    assert shares[False] > 0.5 and shares[True] < 0.3 * shares[False]
