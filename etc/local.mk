# Example configuration, installed under $(sysconfdir)/zentoria-backupd.
zbconfdir = $(sysconfdir)/zentoria-backupd
dist_zbconf_DATA = %reldir%/zentoria-backupd.ini.sample
