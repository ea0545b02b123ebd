DROP TABLE hq.catalog_changes, hq.services, hq.service_categories, hq.vat_rates, hq.vat_categories; DROP FUNCTION hq.notify_catalog_change();
