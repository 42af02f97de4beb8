-- Subscribers per admin3 of their last location on 2016-01-20 (ties: the smallest pcod), served rows only.
WITH located AS (
    SELECT e.msisdn AS subscriber, e.datetime, c.admin3pcod AS pcod
    FROM (
        SELECT msisdn, datetime, location_id FROM events.calls
        UNION ALL
        SELECT msisdn, datetime, location_id FROM events.sms
    ) AS e
    JOIN geography.cell_admin_units AS c
      ON c.location_id = e.location_id
     AND (c.date_of_first_service IS NULL OR c.date_of_first_service <= e.datetime::DATE)
     AND (c.date_of_last_service IS NULL OR c.date_of_last_service >= e.datetime::DATE)
    WHERE e.datetime >= TIMESTAMP '2016-01-20' AND e.datetime < TIMESTAMP '2016-01-21'
      AND c.admin3pcod IS NOT NULL
), last_seen AS (
    SELECT subscriber, pcod
    FROM located
    QUALIFY row_number() OVER (PARTITION BY subscriber ORDER BY datetime DESC, pcod) = 1
)
SELECT pcod, count(*) AS value FROM last_seen GROUP BY pcod HAVING count(*) > 15;
