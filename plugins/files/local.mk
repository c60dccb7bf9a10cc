# The `files' source plugin: directories and files as one tar stream.
plugin_LTLIBRARIES += %reldir%/files.la
%canon_reldir%_files_la_SOURCES = %reldir%/files.c %reldir%/files.h \
	%reldir%/files_backup.c %reldir%/files_backup.h \
	%reldir%/files_restore.c %reldir%/files_restore.h \
	%reldir%/files_util.c %reldir%/files_util.h
%canon_reldir%_files_la_CFLAGS = $(AM_CFLAGS) $(LIBARCHIVE_CFLAGS) -fvisibility=hidden $(PTHREAD_CFLAGS)
%canon_reldir%_files_la_LDFLAGS = $(ZB_PLUGIN_LINK)
%canon_reldir%_files_la_LIBADD = $(LIBARCHIVE_LIBS) $(LIBEVENT_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += %reldir%/README.md
