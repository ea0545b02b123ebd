-- A territory's role may schedule jobs for its own territory only: the
-- worker runs a job on the connection of the territory it names.
SET LOCAL ROLE careservice_owner;

CREATE FUNCTION hq.jobs_territory_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, hq AS $$
DECLARE
    acting_role text := current_setting('role');
BEGIN
    IF EXISTS (SELECT FROM hq.territories WHERE role_name = acting_role)
       AND NOT EXISTS (SELECT FROM hq.territories WHERE role_name = acting_role AND id = NEW.territory_id) THEN
        RAISE EXCEPTION 'a territory may only schedule its own jobs' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION hq.jobs_territory_guard() FROM PUBLIC;

CREATE TRIGGER jobs_territory_guard BEFORE INSERT ON hq.jobs
    FOR EACH ROW EXECUTE FUNCTION hq.jobs_territory_guard();

RESET ROLE;
