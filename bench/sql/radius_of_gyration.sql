-- Mean radius of gyration (2016-01-20 .. 2016-01-26) of the subscribers last seen in each admin3 on
-- 2016-01-26; an admin3 is served if more than 15 subscribers were last seen there (with or without
-- a radius).

-- Located events at cell positions: the cell version in service that day.
CREATE TEMP TABLE week AS
SELECT e.msisdn AS subscriber, c.lon, c.lat
FROM (
    SELECT msisdn, datetime, location_id FROM events.calls
    UNION ALL
    SELECT msisdn, datetime, location_id FROM events.sms
) AS e
JOIN geography.cell_admin_units AS c
  ON c.location_id = e.location_id
 AND (c.date_of_first_service IS NULL OR c.date_of_first_service <= e.datetime::DATE)
 AND (c.date_of_last_service IS NULL OR c.date_of_last_service >= e.datetime::DATE)
WHERE e.datetime >= TIMESTAMP '2016-01-20' AND e.datetime < TIMESTAMP '2016-01-27';

WITH centre AS (
    SELECT subscriber, avg(lon) AS lon, avg(lat) AS lat FROM week GROUP BY subscriber
), radius AS (
    -- root mean square haversine distance (km, sphere of 6371.0088 km) of the events from the centre
    SELECT w.subscriber, sqrt(avg(pow(
        2 * 6371.0088 * asin(least(1, sqrt(
            pow(sin(radians(c.lat - w.lat) / 2), 2)
            + cos(radians(w.lat)) * cos(radians(c.lat)) * pow(sin(radians(c.lon - w.lon) / 2), 2)
        ))), 2))) AS value
    FROM week AS w JOIN centre AS c USING (subscriber)
    GROUP BY w.subscriber
), last_seen AS (
    SELECT e.msisdn AS subscriber, c.admin3pcod AS pcod
    FROM (
        SELECT msisdn, datetime, location_id FROM events.calls
        UNION ALL
        SELECT msisdn, datetime, location_id FROM events.sms
    ) AS e
    JOIN geography.cell_admin_units AS c
      ON c.location_id = e.location_id
     AND (c.date_of_first_service IS NULL OR c.date_of_first_service <= e.datetime::DATE)
     AND (c.date_of_last_service IS NULL OR c.date_of_last_service >= e.datetime::DATE)
    WHERE e.datetime >= TIMESTAMP '2016-01-26' AND e.datetime < TIMESTAMP '2016-01-27'
      AND c.admin3pcod IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY e.msisdn ORDER BY e.datetime DESC, c.admin3pcod) = 1
), residents AS (
    SELECT pcod, count(*) AS subscribers FROM last_seen GROUP BY pcod
)
SELECT l.pcod, avg(r.value) AS value
FROM last_seen AS l
JOIN radius AS r USING (subscriber)
JOIN residents AS n USING (pcod)
WHERE n.subscribers > 15
GROUP BY l.pcod;
