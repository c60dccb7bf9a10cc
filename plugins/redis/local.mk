# The `redis' source plugin: an RDB over the replication protocol.
plugin_LTLIBRARIES += %reldir%/redis.la
%canon_reldir%_redis_la_SOURCES = %reldir%/redis.c %reldir%/redis.h \
	%reldir%/redis_info.c %reldir%/redis_sync.c %reldir%/redis_test.c \
	%reldir%/rdb_stream.c %reldir%/rdb_stream.h \
	%reldir%/crc64.c %reldir%/crc64.h
%canon_reldir%_redis_la_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS) -fvisibility=hidden
%canon_reldir%_redis_la_LDFLAGS = $(ZB_PLUGIN_LINK)
%canon_reldir%_redis_la_LIBADD = $(HIREDIS_LIBS) $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
