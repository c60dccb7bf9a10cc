plugin_LTLIBRARIES += %reldir%/command.la
%canon_reldir%_command_la_SOURCES = %reldir%/command.c
%canon_reldir%_command_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
%canon_reldir%_command_la_LDFLAGS = $(ZB_PLUGIN_LINK)
%canon_reldir%_command_la_LIBADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
