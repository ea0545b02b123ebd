DROP TABLE hq.jobs;
