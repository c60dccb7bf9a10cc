# The `vault' source plugin: raft snapshots of Vault/OpenBao over HTTP.
plugin_LTLIBRARIES += %reldir%/vault.la
%canon_reldir%_vault_la_SOURCES = %reldir%/vault.c %reldir%/vault.h \
	%reldir%/vault_api.c %reldir%/vault_snap.c %reldir%/vault_restore.c \
	%reldir%/snapcheck.c %reldir%/snapcheck.h
%canon_reldir%_vault_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) \
	$(ZLIB_CFLAGS) -fvisibility=hidden
%canon_reldir%_vault_la_LDFLAGS = $(ZB_PLUGIN_LINK)
%canon_reldir%_vault_la_LIBADD = $(OPENSSL_LIBS) $(ZLIB_LIBS) $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
