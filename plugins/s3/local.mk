plugin_LTLIBRARIES += %reldir%/s3.la
%canon_reldir%_s3_la_SOURCES = %reldir%/s3.c %reldir%/s3.h \
	%reldir%/s3_req.c %reldir%/s3_xml.c %reldir%/s3_put.c \
	%reldir%/s3_get.c %reldir%/s3_list.c %reldir%/s3_src.c \
	%reldir%/s3_src_restore.c %reldir%/s3_src.h %reldir%/s3_alloc.c \
	%reldir%/s3_limits.c %reldir%/s3_limits.h \
	%reldir%/sigv4.c %reldir%/sigv4.h %reldir%/s3_buf.h
%canon_reldir%_s3_la_CPPFLAGS = $(AM_CPPFLAGS) $(LIBCURL_CFLAGS) \
	$(OPENSSL_CFLAGS) $(LIBARCHIVE_CFLAGS)
%canon_reldir%_s3_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
%canon_reldir%_s3_la_LDFLAGS = $(ZB_PLUGIN_LINK)
%canon_reldir%_s3_la_LIBADD = $(LIBCURL_LIBS) $(OPENSSL_LIBS) $(LIBEVENT_LIBS) \
	$(LIBARCHIVE_LIBS)
EXTRA_DIST += %reldir%/README.md
