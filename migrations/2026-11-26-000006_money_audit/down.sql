DROP INDEX hq.jobs_one_waiting_drain;
DROP FUNCTION hq.own_contract_on(date);
DROP TABLE hq.audit_log, hq.commission_totals, hq.commission_events;
DROP FUNCTION hq.refuse_change();
