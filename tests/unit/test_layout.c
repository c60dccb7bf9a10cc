/*
 * test_layout.c - the storage layout (core/layout.c): keys, directories
 * and ids built and parsed back, malformed ones refused, stamp order.
 */
#include "zb-build.h"

#include "testlib.h"

#include "layout.h"

#define STAMP	"2026-12-06T120233Z"

Test(layout, build)
{
	char	*s;

	s = layout_artifact_id("pg", "db1", STAMP);
	cr_assert_str_eq(s, "pg/db1@" STAMP);
	free(s);
	s = layout_artifact_dir("pg", "db1", STAMP);
	cr_assert_str_eq(s, "pg/db1/" STAMP);
	free(s);
	s = layout_source_prefix("pg");
	cr_assert_str_eq(s, "pg/");
	free(s);
	s = layout_source_prefix(NULL);
	cr_assert_str_eq(s, "");
	free(s);
	s = layout_data_name("sql", ".zst", 1);
	cr_assert_str_eq(s, "data.sql.zst.age");
	free(s);
	s = layout_data_name("tar", "", 0);
	cr_assert_str_eq(s, "data.tar");
	cr_assert(layout_valid_data_name(s));
	free(s);
	cr_assert(!layout_valid_data_name("manifest.json"));
	cr_assert(!layout_valid_data_name("data.sql/../x"));
	cr_assert(!layout_valid_data_name("Data.sql"));
	cr_assert(!layout_valid_data_name("data.s ql"));
	s = layout_data_key("pg/db1/" STAMP, "data.sql");
	cr_assert_str_eq(s, "pg/db1/" STAMP "/data.sql");
	free(s);
	s = layout_sidecar_key("pg/db1/" STAMP, "data.sql");
	cr_assert_str_eq(s, "pg/db1/" STAMP "/data.sql.sha256");
	free(s);
	s = layout_manifest_key("pg/db1/" STAMP);
	cr_assert_str_eq(s, "pg/db1/" STAMP "/manifest.json");
	free(s);
	s = layout_marker_key("pg/db1/" STAMP);
	cr_assert_str_eq(s, "pg/db1/" STAMP "/in-progress.json");
	free(s);
	s = layout_sidecar_text("ab", "data.sql");
	cr_assert_str_eq(s, "ab  data.sql\n");
	free(s);
}

/* Every key built for an artifact parses back to its directory. */
Test(layout, key_round_trip)
{
	static const char *const stamps[] = { STAMP, STAMP "-01",
	    STAMP "-99" };
	struct layout_key	 lk;
	char			*dir, *keys[4];
	time_t			 t;
	size_t			 i, k;

	cr_assert_eq(stamp_parse(STAMP, &t), 0);
	for (i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
		dir = layout_artifact_dir("pg.main", "db-1_x", stamps[i]);
		keys[0] = layout_data_key(dir, "data.sql.zst");
		keys[1] = layout_sidecar_key(dir, "data.sql.zst");
		keys[2] = layout_manifest_key(dir);
		keys[3] = layout_marker_key(dir);
		for (k = 0; k < 4; k++) {
			cr_assert_eq(layout_parse_key(keys[k], &lk), 0, "%s",
			    keys[k]);
			cr_assert_eq(lk.dir_len, strlen(dir), "%s", keys[k]);
			cr_assert_eq(strncmp(keys[k], dir, lk.dir_len), 0);
			cr_assert_eq(lk.name, keys[k] + strlen(dir) + 1);
			cr_assert_eq(lk.time, t, "%s", keys[k]);
			cr_assert_eq(layout_is_manifest_key(keys[k]), k == 2,
			    "%s", keys[k]);
			free(keys[k]);
		}
		free(dir);
	}
}

Test(layout, key_refusals)
{
	static const char *const bad[] = {
		"",
		"pg",
		"pg/db1",
		"pg/db1/" STAMP,		/* no name: a directory */
		"/db1/" STAMP "/manifest.json",	/* empty source */
		"pg//" STAMP "/manifest.json",	/* empty stream */
		"pg/db1//manifest.json",	/* empty stamp */
		"pg/db1/2026-12-06T12:02:33Z/manifest.json",
		"pg/db1/" STAMP "x/manifest.json",
		"pg/db1/" STAMP "-1/manifest.json",
		"pg/db1/" STAMP "-100/manifest.json",
		"pg/db1/latest/manifest.json",
		"pg/db1/2026-12-06T120233Z-01-01-01-01-01-01/x",
		"other/file.txt",
	};
	struct layout_key	 lk;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lk.dir_len = 7;
		cr_assert_eq(layout_parse_key(bad[i], &lk), -1, "'%s'",
		    bad[i]);
		cr_assert_eq(lk.dir_len, 0, "'%s'", bad[i]);
	}
	cr_assert(!layout_is_manifest_key("manifest.json"));
	cr_assert(!layout_is_manifest_key("pg/db1/manifest.json"));
	cr_assert(!layout_is_manifest_key("pg/db1/" STAMP "/x/manifest.json"));
	cr_assert(!layout_is_manifest_key("pg/db1/" STAMP "/manifest.json2"));
	cr_assert(!layout_is_manifest_key("pg/db1/" STAMP "/xmanifest.json"));
}

Test(layout, id_round_trip)
{
	char	*id, *src, *str, *stamp;

	id = layout_artifact_id("pg.main", "db-1", STAMP "-07");
	cr_assert_eq(layout_parse_id(id, &src, &str, &stamp), 0);
	cr_assert_str_eq(src, "pg.main");
	cr_assert_str_eq(str, "db-1");
	cr_assert_str_eq(stamp, STAMP "-07");
	free(src);
	free(str);
	free(stamp);
	free(id);
}

Test(layout, id_refusals)
{
	static const char *const bad[] = {
		"",
		"pg",
		"pg/db1",
		"pg@" STAMP "/db1",		/* '@' before '/' */
		"pg/db1@",
		"/db1@" STAMP,
		"pg/@" STAMP,
		"pg/db1@yesterday",
		"pg/db1@" STAMP "-100",
		".pg/db1@" STAMP,		/* hidden name */
		"pg/d b1@" STAMP,
		"pg/db1/x@" STAMP,		/* a slash in the stream */
		"pg/db1@" STAMP "/manifest.json",
	};
	char	*src, *str, *stamp;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		src = str = stamp = (char *)"x";
		cr_assert_eq(layout_parse_id(bad[i], &src, &str, &stamp), -1,
		    "'%s'", bad[i]);
		cr_assert_null(src, "'%s'", bad[i]);
		cr_assert_null(str);
		cr_assert_null(stamp);
	}
}

Test(layout, stamp_order_with_collision_suffix)
{
	cr_assert_lt(layout_stamp_cmp("2026-12-06T120233Z",
	    "2026-12-06T120234Z"), 0);
	cr_assert_lt(layout_stamp_cmp("2026-12-06T120233Z",
	    "2026-12-06T120233Z-01"), 0);
	cr_assert_lt(layout_stamp_cmp("2026-12-06T120233Z-01",
	    "2026-12-06T120233Z-02"), 0);
	cr_assert_lt(layout_stamp_cmp("2026-12-06T120233Z-99",
	    "2026-12-06T120233Z-100"), 0);
	cr_assert_gt(layout_stamp_cmp("2026-12-06T120234Z",
	    "2026-12-06T120233Z-05"), 0);
	cr_assert_eq(layout_stamp_cmp("2026-12-06T120233Z-01",
	    "2026-12-06T120233Z-01"), 0);
}
