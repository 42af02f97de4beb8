-- The seed demo by hand: daily locations (most-common) for the 28 days, the modal location of
-- each 14-day half, subscribers per admin3 before and after, and the flows between the halves.
-- Served rows only: a row counts more than 15 subscribers.

-- Calls and SMS of 2016-01-02 .. 2016-01-29, each at the admin3 of the cell version in service that day;
-- per subscriber and day the admin3 with most events, then the latest event, then the smallest pcod.
CREATE TEMP TABLE daily AS
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
    WHERE e.datetime >= TIMESTAMP '2016-01-02' AND e.datetime < TIMESTAMP '2016-01-30'
      AND c.admin3pcod IS NOT NULL
)
SELECT subscriber, datetime::DATE AS day, pcod
FROM located
GROUP BY subscriber, day, pcod
QUALIFY row_number() OVER (PARTITION BY subscriber, day ORDER BY count(*) DESC, max(datetime) DESC, pcod) = 1;

-- Per subscriber and half: the admin3 held on most days, then the latest day, then the smallest pcod.
CREATE TEMP TABLE modal AS
SELECT subscriber, day >= DATE '2016-01-16' AS after_crisis, pcod
FROM daily
GROUP BY subscriber, after_crisis, pcod
QUALIFY row_number() OVER (PARTITION BY subscriber, after_crisis ORDER BY count(*) DESC, max(day) DESC, pcod) = 1;

SELECT pcod, count(*) AS value FROM modal WHERE NOT after_crisis GROUP BY pcod HAVING count(*) > 15;

SELECT pcod, count(*) AS value FROM modal WHERE after_crisis GROUP BY pcod HAVING count(*) > 15;

SELECT b.pcod AS pcod_from, a.pcod AS pcod_to, count(*) AS value
FROM modal AS b
JOIN modal AS a ON a.subscriber = b.subscriber AND a.after_crisis
WHERE NOT b.after_crisis
GROUP BY b.pcod, a.pcod
HAVING count(*) > 15;
