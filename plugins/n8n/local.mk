# The `n8n' source plugin: workflows through n8n's public REST API.
plugin_LTLIBRARIES += %reldir%/n8n.la
%canon_reldir%_n8n_la_SOURCES = %reldir%/n8n.c %reldir%/n8n.h \
	%reldir%/n8n_api.c %reldir%/n8n_page.c %reldir%/n8n_backup.c \
	%reldir%/n8n_body.c %reldir%/n8n_restore.c %reldir%/n8n_apply.c
%canon_reldir%_n8n_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
%canon_reldir%_n8n_la_LDFLAGS = $(ZB_PLUGIN_LINK)
%canon_reldir%_n8n_la_LIBADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
