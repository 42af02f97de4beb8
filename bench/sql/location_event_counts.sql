-- Located calls and SMS per admin3 and hour of 2016-01-20; an hour is served if more than 15
-- distinct subscribers made its events.
SELECT c.admin3pcod AS pcod, strftime(e.datetime, '%Y-%m-%d') AS date, hour(e.datetime) AS hour, count(*) AS value
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
GROUP BY ALL
HAVING count(DISTINCT e.msisdn) > 15;
