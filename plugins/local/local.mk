plugin_LTLIBRARIES += %reldir%/local.la
%canon_reldir%_local_la_SOURCES = %reldir%/local.c
%canon_reldir%_local_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
%canon_reldir%_local_la_LDFLAGS = $(ZB_PLUGIN_LINK)
%canon_reldir%_local_la_LIBADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
