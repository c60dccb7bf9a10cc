plugin_LTLIBRARIES += %reldir%/postgresql.la
%canon_reldir%_postgresql_la_SOURCES = %reldir%/pg.c %reldir%/pg.h \
	%reldir%/pg_archive.c %reldir%/pg_conn.c %reldir%/pg_dump.c \
	%reldir%/pg_env.c %reldir%/pg_restore.c %reldir%/pg_scan.c \
	%reldir%/pg_test.c
%canon_reldir%_postgresql_la_CPPFLAGS = $(AM_CPPFLAGS) $(LIBPQ_CFLAGS)
%canon_reldir%_postgresql_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
%canon_reldir%_postgresql_la_LDFLAGS = $(ZB_PLUGIN_LINK)
%canon_reldir%_postgresql_la_LIBADD = $(LIBPQ_LIBS) $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
