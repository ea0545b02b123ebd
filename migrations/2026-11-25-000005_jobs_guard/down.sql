DROP TRIGGER jobs_territory_guard ON hq.jobs; DROP FUNCTION hq.jobs_territory_guard();
