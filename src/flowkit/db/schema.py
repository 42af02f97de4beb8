"""FlowDB's standard schema, as DuckDB DDL.

Names and columns follow FlowKit's FlowDB so that SQL written for FlowKit reads the same here.
Differences forced by DuckDB (no PostGIS): geometries are WKB blobs, and times are naive
TIMESTAMPs that by convention hold UTC. Daily partitions are not needed: DuckDB's zone maps
prune by `datetime` when events are loaded in time order.
"""

EVENT_TYPES = ("calls", "sms", "mds", "topups")
ADMIN_LEVELS = (0, 1, 2, 3)

_COMMON_SUBSCRIBER_COLUMNS = """
    msisdn VARCHAR NOT NULL,
    location_id VARCHAR,
    imsi VARCHAR,
    imei VARCHAR,
    tac DECIMAL(8, 0),
    operator_code DECIMAL(18, 0),
    country_code DECIMAL(18, 0)
"""

_EVENTS = {
    "calls": f"""
        id VARCHAR,
        outgoing BOOLEAN,
        datetime TIMESTAMP NOT NULL,
        duration DOUBLE,
        network VARCHAR,
        msisdn_counterpart VARCHAR,
        {_COMMON_SUBSCRIBER_COLUMNS}""",
    "sms": f"""
        id VARCHAR,
        outgoing BOOLEAN,
        datetime TIMESTAMP NOT NULL,
        network VARCHAR,
        msisdn_counterpart VARCHAR,
        {_COMMON_SUBSCRIBER_COLUMNS}""",
    "mds": f"""
        id VARCHAR,
        datetime TIMESTAMP NOT NULL,
        duration DOUBLE,
        volume_total DOUBLE,
        volume_upload DOUBLE,
        volume_download DOUBLE,
        network VARCHAR,
        {_COMMON_SUBSCRIBER_COLUMNS}""",
    "topups": f"""
        id VARCHAR,
        datetime TIMESTAMP NOT NULL,
        type VARCHAR,
        recharge_amount DOUBLE,
        airtime_fee DOUBLE,
        tax_and_fee DOUBLE,
        pre_event_balance DOUBLE,
        post_event_balance DOUBLE,
        {_COMMON_SUBSCRIBER_COLUMNS}""",
}

_INFRASTRUCTURE = """
CREATE TABLE IF NOT EXISTS infrastructure.sites (
    site_id BIGINT,
    id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    name VARCHAR,
    type VARCHAR,
    status VARCHAR,
    structure_type VARCHAR,
    is_cow BOOLEAN,
    date_of_first_service DATE,
    date_of_last_service DATE,
    geom_point BLOB,
    geom_polygon BLOB,
    UNIQUE (id, version)
);
CREATE TABLE IF NOT EXISTS infrastructure.cells (
    cell_id BIGINT,
    id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    site_id VARCHAR,
    name VARCHAR,
    type VARCHAR,
    msc VARCHAR,
    bsc_rnc VARCHAR,
    antenna_type VARCHAR,
    status VARCHAR,
    lac VARCHAR,
    height DOUBLE,
    azimuth DOUBLE,
    transmitter VARCHAR,
    max_range DOUBLE,
    min_range DOUBLE,
    electrical_tilt DOUBLE,
    mechanical_downtilt DOUBLE,
    date_of_first_service DATE,
    date_of_last_service DATE,
    geom_point BLOB,
    geom_polygon BLOB,
    UNIQUE (id, version)
);
CREATE TABLE IF NOT EXISTS infrastructure.tacs (
    id DECIMAL(8, 0) PRIMARY KEY,
    brand VARCHAR,
    model VARCHAR,
    width DOUBLE,
    height DOUBLE,
    depth DOUBLE,
    weight DOUBLE,
    display_type VARCHAR,
    display_colors DOUBLE,
    display_width DOUBLE,
    display_height DOUBLE,
    software_os_vendor VARCHAR,
    software_os_name VARCHAR,
    software_os_version VARCHAR,
    hnd_type VARCHAR
);
"""

# One row per cell version: where it stands and which admin unit of every level contains it.
# Computed once from the geometries (flowkit.db.geometry) so that queries join on plain keys.
_CELL_ADMIN_UNITS = """
CREATE TABLE IF NOT EXISTS geography.cell_admin_units (
    location_id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    date_of_first_service DATE,
    date_of_last_service DATE,
    lon DOUBLE NOT NULL,
    lat DOUBLE NOT NULL,
    admin0pcod VARCHAR,
    admin1pcod VARCHAR,
    admin2pcod VARCHAR,
    admin3pcod VARCHAR,
    site_id VARCHAR
);
-- One row per site version with its position: the versioned-site unit of meaningful locations.
CREATE TABLE IF NOT EXISTS geography.site_locations (
    site_id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    date_of_first_service DATE,
    date_of_last_service DATE,
    lon DOUBLE NOT NULL,
    lat DOUBLE NOT NULL
);
"""

_ETL = """
CREATE TABLE IF NOT EXISTS etl.etl_records (
    id BIGINT,
    cdr_type VARCHAR NOT NULL,
    cdr_date DATE NOT NULL,
    state VARCHAR NOT NULL,
    timestamp TIMESTAMP NOT NULL
);
CREATE OR REPLACE VIEW etl.ingest_state AS
    SELECT cdr_type, cdr_date, state, timestamp FROM (
        SELECT *, row_number() OVER (PARTITION BY cdr_type, cdr_date ORDER BY timestamp DESC, id DESC) AS rank
        FROM etl.etl_records
    ) WHERE rank = 1;
CREATE OR REPLACE VIEW etl.available_dates AS
    SELECT cdr_type, cdr_date FROM etl.ingest_state WHERE state = 'ingested';
-- QA check outcomes (flowkit.ingest.qa), appended by every run; the view keeps each check's
-- latest outcome on each date whose latest state is ingested.
CREATE TABLE IF NOT EXISTS etl.post_etl_queries (
    id BIGINT,
    cdr_date DATE,
    cdr_type VARCHAR,
    type_of_query_or_check VARCHAR,
    outcome VARCHAR,
    optional_comment_or_description VARCHAR,
    timestamp TIMESTAMP
);
CREATE OR REPLACE VIEW etl.deduped_post_etl_queries AS
    SELECT cdr_date, cdr_type, type_of_query_or_check, outcome, optional_comment_or_description, timestamp FROM (
        SELECT q.*, row_number() OVER (
            PARTITION BY q.cdr_date, q.cdr_type, q.type_of_query_or_check ORDER BY q.timestamp DESC, q.id DESC
        ) AS rank
        FROM etl.post_etl_queries q
        JOIN etl.ingest_state s ON s.cdr_type = q.cdr_type AND s.cdr_date = q.cdr_date
        WHERE s.state = 'ingested'
    ) WHERE rank = 1;
-- Every file `flowkit ingest` loaded or refused, by content: a file is loaded at most once.
-- status loaded | refused; policy: what on_existing_date did for dates that already held rows
-- (append | replace | refuse, NULL when none did), existing_dates: those dates, comma-separated.
CREATE TABLE IF NOT EXISTS etl.ingested_files (
    checksum VARCHAR PRIMARY KEY,
    file_name VARCHAR NOT NULL,
    cdr_type VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    first_date DATE,
    last_date DATE,
    policy VARCHAR,
    existing_dates VARCHAR,
    loaded_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS available_tables (
    table_name VARCHAR PRIMARY KEY,
    has_locations BOOLEAN,
    has_subscribers BOOLEAN,
    has_counterparts BOOLEAN
);
"""


# Digital financial services (mobile money), read by dfs_metric_total_amount. Transactions are
# in two-line format: one metadata row per party, with the cell version it transacted through.
_DFS = """
CREATE TABLE IF NOT EXISTS dfs.transaction_types (
    id INTEGER PRIMARY KEY,
    descr VARCHAR,
    user_type_a_party VARCHAR,
    user_type_b_party VARCHAR
);
CREATE TABLE IF NOT EXISTS dfs.transactions (
    id BIGINT PRIMARY KEY,
    amount DECIMAL(14, 4),
    discount DECIMAL(14, 4),
    fee DECIMAL(14, 4),
    commission DECIMAL(14, 4),
    transtype_id INTEGER,
    timestamp TIMESTAMP
);
CREATE TABLE IF NOT EXISTS dfs.subscribers (
    id BIGINT PRIMARY KEY,
    msisdn VARCHAR
);
CREATE TABLE IF NOT EXISTS dfs.transactions_metadata (
    transaction_id BIGINT,
    subscriber_id BIGINT,
    cell_id VARCHAR NOT NULL,
    cell_version INTEGER NOT NULL,
    is_outgoing BOOLEAN
);
"""


# Stored results (cache.x<query_id>) and what is known about them; see flowkit.machine.cache.
# Named apart from FlowKit's own cache.cached / cache.dependencies / cache.cache_config, whose
# columns differ, so that our machine can share an existing FlowKit FlowDB with FlowMachine.
_CACHE = """
CREATE TABLE IF NOT EXISTS cache.queries (
    query_id VARCHAR PRIMARY KEY,
    query_kind VARCHAR NOT NULL,
    spec VARCHAR NOT NULL,
    created TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS cache.stored_results (
    query_id VARCHAR PRIMARY KEY,
    version VARCHAR NOT NULL,
    query_kind VARCHAR NOT NULL,
    spec VARCHAR NOT NULL,
    created TIMESTAMP NOT NULL,
    access_count BIGINT NOT NULL,
    last_accessed TIMESTAMP NOT NULL,
    compute_time DOUBLE NOT NULL,
    tablename VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    cache_score_multiplier DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS cache.settings (
    key VARCHAR PRIMARY KEY,
    value DOUBLE NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS cache.touches START 1;
CREATE TABLE IF NOT EXISTS cache.stored_dependencies (
    query_id VARCHAR NOT NULL,
    depends_on VARCHAR NOT NULL
);
"""


def _admin_table(level: int) -> str:
    parent = f"admin{level - 1}pcod VARCHAR," if level else ""
    return f"""
CREATE TABLE IF NOT EXISTS geography.admin{level} (
    gid INTEGER,
    admin{level}pcod VARCHAR PRIMARY KEY,
    admin{level}name VARCHAR,
    {parent}
    geom BLOB NOT NULL
);"""


def ddl() -> str:
    """The whole schema as one idempotent script."""
    parts = [
        "CREATE SCHEMA IF NOT EXISTS events;",
        "CREATE SCHEMA IF NOT EXISTS infrastructure;",
        "CREATE SCHEMA IF NOT EXISTS geography;",
        "CREATE SCHEMA IF NOT EXISTS etl;",
        "CREATE SCHEMA IF NOT EXISTS cache;",
        "CREATE SCHEMA IF NOT EXISTS dfs;",
    ]
    parts += [f"CREATE TABLE IF NOT EXISTS events.{name} ({cols});" for name, cols in _EVENTS.items()]
    parts += [_INFRASTRUCTURE, _CELL_ADMIN_UNITS, _ETL, _DFS, _CACHE]
    parts += [_admin_table(level) for level in ADMIN_LEVELS]
    parts.append(
        "INSERT OR IGNORE INTO available_tables VALUES "
        "('calls', true, true, true), ('sms', true, true, true), "
        "('mds', true, true, false), ('topups', true, true, false);"
    )
    return "\n".join(parts)
