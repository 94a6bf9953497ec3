-- A worker's start time, portably: whole seconds since the Unix epoch, as
-- `sysinfo` reports it on Linux and macOS alike. With the pid and the command
-- line it proves a leftover worker is one this home's daemon started.
-- `pid_start` (clock ticks after boot, read from /proc on Linux) is no longer
-- written; a run that has only it is converted when read.
ALTER TABLE runs ADD COLUMN pid_start_unix_s INTEGER;
