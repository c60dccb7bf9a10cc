# The `qdrant' source plugin: collection and full-storage snapshots.
plugin_LTLIBRARIES += %reldir%/qdrant.la
%canon_reldir%_qdrant_la_SOURCES = %reldir%/qdrant.c %reldir%/qdrant.h \
	%reldir%/qdrant_req.c %reldir%/qdrant_json.c \
	%reldir%/qdrant_backup.c %reldir%/qdrant_restore.c
%canon_reldir%_qdrant_la_CPPFLAGS = -I$(top_builddir) \
	-I$(top_srcdir)/core $(OPENSSL_CFLAGS)
%canon_reldir%_qdrant_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
%canon_reldir%_qdrant_la_LDFLAGS = $(ZB_PLUGIN_LINK)
%canon_reldir%_qdrant_la_LIBADD = $(OPENSSL_LIBS) $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
