-- Distinct subscribers with a located call or SMS per admin3 over 2016-01-01 .. 2016-01-30, served rows only.
SELECT c.admin3pcod AS pcod, count(DISTINCT e.msisdn) AS value
FROM (
    SELECT msisdn, datetime, location_id FROM events.calls
    UNION ALL
    SELECT msisdn, datetime, location_id FROM events.sms
) AS e
JOIN geography.cell_admin_units AS c
  ON c.location_id = e.location_id
 AND (c.date_of_first_service IS NULL OR c.date_of_first_service <= e.datetime::DATE)
 AND (c.date_of_last_service IS NULL OR c.date_of_last_service >= e.datetime::DATE)
WHERE e.datetime >= TIMESTAMP '2016-01-01' AND e.datetime < TIMESTAMP '2016-01-31'
  AND c.admin3pcod IS NOT NULL
GROUP BY c.admin3pcod
HAVING count(DISTINCT e.msisdn) > 15;
