# Example configuration, installed under $(sysconfdir)/zentoria-backupd.
zbconfdir = $(sysconfdir)/zentoria-backupd
dist_zbconf_DATA = %reldir%/zentoria-backupd.ini.sample

# Prometheus alert rules and the Grafana dashboard (docs/monitoring.md),
# installed under $(datadir)/zentoria-backupd.
zbpromdir = $(datadir)/zentoria-backupd/prometheus
dist_zbprom_DATA = %reldir%/prometheus/zentoria-backupd.rules.yml
zbgrafanadir = $(datadir)/zentoria-backupd/grafana
dist_zbgrafana_DATA = %reldir%/grafana/zentoria-backupd.json
