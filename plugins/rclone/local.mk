plugin_LTLIBRARIES += %reldir%/rclone.la
%canon_reldir%_rclone_la_SOURCES = %reldir%/rclone.c %reldir%/rclone.h \
	%reldir%/rclone_run.c %reldir%/rclone_json.c %reldir%/rclone_put.c \
	%reldir%/rclone_get.c %reldir%/rclone_list.c %reldir%/rclone_rcd.c \
	%reldir%/rclone_job.c
%canon_reldir%_rclone_la_CPPFLAGS = $(AM_CPPFLAGS) $(OPENSSL_CFLAGS)
%canon_reldir%_rclone_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
%canon_reldir%_rclone_la_LDFLAGS = $(ZB_PLUGIN_LINK)
%canon_reldir%_rclone_la_LIBADD = $(OPENSSL_LIBS) $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
