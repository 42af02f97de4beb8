-- meaningful_locations_aggregate by hand (FlowKit's method, after Isaacman et al.): 'home' clusters per
-- admin3 over 2016-01-01 .. 2016-01-14, with the kind's example scores and labels, radius 1 km, no
-- call-day threshold. A subscriber with n home clusters adds 1/n for each; served rows only.
-- `admin3_edges` (gid, pcod, x1, y1, x2, y2: every edge of every ring of geography.admin3) is read from
-- the boundaries' WKB by the benchmark: DuckDB here has no spatial extension.

-- Per subscriber and site version: call days and mean scores of the calls and SMS located there
-- (the cell's site, at the site version in service that day), numbered most call days first
-- (ties: site id, then version).
CREATE TEMP TABLE sites AS
WITH located AS (
    SELECT e.msisdn AS subscriber, e.datetime, s.site_id, s.version, s.lon, s.lat
    FROM (
        SELECT msisdn, datetime, location_id FROM events.calls
        UNION ALL
        SELECT msisdn, datetime, location_id FROM events.sms
    ) AS e
    JOIN (SELECT DISTINCT location_id, site_id FROM geography.cell_admin_units) AS cs ON cs.location_id = e.location_id
    JOIN geography.site_locations AS s
      ON s.site_id = cs.site_id
     AND (s.date_of_first_service IS NULL OR s.date_of_first_service <= e.datetime::DATE)
     AND (s.date_of_last_service IS NULL OR s.date_of_last_service >= e.datetime::DATE)
    WHERE e.datetime >= TIMESTAMP '2016-01-01' AND e.datetime < TIMESTAMP '2016-01-15'
)
SELECT
    subscriber, site_id, version, lon, lat,
    count(DISTINCT datetime::DATE) AS calldays,
    -- hour score: 1 from 9 to 16 h, 0 at 8 and 17 h, -1 otherwise; day score: 1 Monday-Friday, -1 weekends
    avg(CASE WHEN hour(datetime) BETWEEN 9 AND 16 THEN 1 WHEN hour(datetime) IN (8, 17) THEN 0 ELSE -1 END) AS score_hour,
    avg(CASE WHEN isodow(datetime) <= 5 THEN 1 ELSE -1 END) AS score_dow,
    row_number() OVER (PARTITION BY subscriber ORDER BY count(DISTINCT datetime::DATE) DESC, site_id, version) AS position
FROM located
GROUP BY subscriber, site_id, version, lon, lat;

-- Metres between two points on the WGS84 ellipsoid, Vincenty's inverse formula. DuckDB has no local
-- variables, so the iteration's state is a struct and each round takes five steps (sigma, alpha, cos 2sigma_m,
-- C, the new lambda); five rounds settle lambda to the last bit for points a few km apart, a sixth
-- round's first four steps give the terms of the final lambda.
CREATE TEMP MACRO vincenty_step(s, i) AS CASE i % 5
    WHEN 0 THEN struct_update(s,
        ss := sqrt(pow(s.cu2 * sin(s.lam), 2) + pow(s.cu1 * s.su2 - s.su1 * s.cu2 * cos(s.lam), 2)),
        cs := s.su1 * s.su2 + s.cu1 * s.cu2 * cos(s.lam))
    WHEN 1 THEN struct_update(s,
        sg := atan2(s.ss, s.cs),
        sa := s.cu1 * s.cu2 * sin(s.lam) / CASE WHEN s.ss = 0 THEN 1 ELSE s.ss END)
    WHEN 2 THEN struct_update(s, c2a := 1 - s.sa * s.sa)
    WHEN 3 THEN struct_update(s,
        c2sm := CASE WHEN s.c2a = 0 THEN 0 ELSE s.cs - 2 * s.su1 * s.su2 / s.c2a END,
        c := (1 / 298.257223563) / 16 * s.c2a * (4 + (1 / 298.257223563) * (4 - 3 * s.c2a)))
    ELSE struct_update(s,
        lam := s.big_l + (1 - s.c) * (1 / 298.257223563) * s.sa
            * (s.sg + s.c * s.ss * (s.c2sm + s.c * s.cs * (-1 + 2 * s.c2sm * s.c2sm))))
    END;
CREATE TEMP MACRO vincenty_end(s, u_sq) AS
    6356752.314245179 * (1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq))))
    * (s.sg - vincenty_delta(s, u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))));
CREATE TEMP MACRO vincenty_delta(s, b) AS
    b * s.ss * (s.c2sm + b / 4 * (s.cs * (-1 + 2 * s.c2sm * s.c2sm)
        - b / 6 * s.c2sm * (-3 + 4 * s.ss * s.ss) * (-3 + 4 * s.c2sm * s.c2sm)));
CREATE TEMP MACRO reduced_latitude(lat) AS atan((1 - 1 / 298.257223563) * tan(radians(lat)));
CREATE TEMP MACRO geodesic_m(lon1, lat1, lon2, lat2) AS list_transform(
    [list_reduce(range(29), lambda s, i: vincenty_step(s, i), {
        'big_l': radians(lon2 - lon1), 'lam': radians(lon2 - lon1),
        'su1': sin(reduced_latitude(lat1)), 'cu1': cos(reduced_latitude(lat1)),
        'su2': sin(reduced_latitude(lat2)), 'cu2': cos(reduced_latitude(lat2)),
        'ss': 0.0::DOUBLE, 'cs': 0.0::DOUBLE, 'sg': 0.0::DOUBLE, 'sa': 0.0::DOUBLE,
        'c2a': 0.0::DOUBLE, 'c2sm': 0.0::DOUBLE, 'c': 0.0::DOUBLE})],
    lambda s: vincenty_end(s, s.c2a * (6378137.0 ^ 2 - 6356752.314245179 ^ 2) / 6356752.314245179 ^ 2)
)[1];

-- Hartigan leader clustering, one site per step for every subscriber at once: the k-th site joins the
-- first cluster whose centre is closer than 1 km, moving the centre to the call-day-weighted mean of
-- its sites, else it starts a cluster. A cluster keeps the sums of its sites' scores.
CREATE TEMP TABLE clusters AS
WITH RECURSIVE clustering(subscriber, k, clusters) USING KEY (subscriber) AS (
    SELECT subscriber, 1, [{'lon': lon, 'lat': lat, 'w': calldays::DOUBLE, 'n': 1, 'hour': score_hour, 'dow': score_dow}]
    FROM sites
    WHERE position = 1
    UNION
    SELECT subscriber, k,
        CASE WHEN near IS NULL THEN list_append(clusters, site)
        ELSE list_transform(clusters, lambda c, i: CASE WHEN i = near THEN {
            'lon': (c.lon * c.w + site.lon * site.w) / (c.w + site.w),
            'lat': (c.lat * c.w + site.lat * site.w) / (c.w + site.w),
            'w': c.w + site.w, 'n': c.n + 1, 'hour': c.hour + site.hour, 'dow': c.dow + site.dow
        } ELSE c END) END
    FROM (
        SELECT t.subscriber, t.k + 1 AS k, t.clusters,
            {'lon': s.lon, 'lat': s.lat, 'w': s.calldays::DOUBLE, 'n': 1, 'hour': s.score_hour, 'dow': s.score_dow} AS site,
            list_position(list_transform(t.clusters, lambda c: geodesic_m(c.lon, c.lat, s.lon, s.lat) < 1000), true) AS near
        FROM clustering AS t
        JOIN sites AS s ON s.subscriber = t.subscriber AND s.position = t.k + 1
    )
)
SELECT subscriber, unnest(clusters, recursive := true) FROM clustering;

-- Home clusters: mean scores strictly inside the 'home' rectangle (hour -1 .. -0.01, day -1 .. 1); the
-- admin3 strictly containing the centre by ray casting (the first by gid), none if outside every one.
WITH home AS (
    SELECT subscriber, lon, lat, count(*) OVER (PARTITION BY subscriber) AS n_clusters, row_number() OVER () AS id
    FROM clusters
    WHERE hour / n > -1 AND hour / n < -0.01 AND dow / n > -1 AND dow / n < 1
), crossings AS (
    SELECT h.id, e.gid, any_value(e.pcod) AS pcod
    FROM home AS h
    JOIN admin3_edges AS e
      ON h.lat >= least(e.y1, e.y2) AND h.lat < greatest(e.y1, e.y2)
     AND h.lon < e.x1 + (h.lat - e.y1) * (e.x2 - e.x1) / (e.y2 - e.y1)
    GROUP BY h.id, e.gid
    HAVING count(*) % 2 = 1
), placed AS (
    SELECT id, arg_min(pcod, gid) AS pcod FROM crossings GROUP BY id
)
SELECT 'home' AS label, p.pcod, sum(1.0 / h.n_clusters) AS value
FROM home AS h
LEFT JOIN placed AS p USING (id)
GROUP BY p.pcod
HAVING sum(1.0 / h.n_clusters) > 15;
