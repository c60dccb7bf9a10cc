/*
 * test_plugin.c - the loader refuses bad plugins by name and reason, and
 * plugin options are checked with file:line.
 */
#include "zb-build.h"

#include "plugin.h"
#include "reactor.h"
#include "testlib.h"

static void
setup(void)
{
	test_log_start();
	reactor_init();
}

TestSuite(plugin, .init = setup);

static char *
bad_path(const char *name)
{
	const char	*d = getenv("ZB_TEST_BAD_PLUGIN_DIR");

	cr_assert_not_null(d);
	return xasprintf("%s/%s.so", d, name);
}

Test(plugin, wrong_abi_version_names_file_and_both_versions)
{
	char	*path = bad_path("bad_version");
	char	*want;

	cr_assert_null(plugin_load(path));
	want = xasprintf("%s: plugin refused: built for plugin ABI version "
	    "99, but this zentoria-backupd uses ABI version %d", path,
	    ZB_PLUGIN_ABI_VERSION);
	assert_logged(want);
	free(want);
	free(path);
}

Test(plugin, short_descriptor_is_refused)
{
	char	*path = bad_path("bad_size");

	cr_assert_null(plugin_load(path));
	assert_logged("plugin refused: descriptor is 16 bytes");
	free(path);
}

Test(plugin, abi_signature_mismatch_is_refused)
{
	char	*path = bad_path("bad_sig");

	cr_assert_null(plugin_load(path));
	assert_logged("bad_sig.so: plugin refused: ABI signature");
	free(path);
}

Test(plugin, unknown_required_capability_is_refused)
{
	char	*path = bad_path("bad_cap");

	cr_assert_null(plugin_load(path));
	assert_logged("requires capabilities 0x00010000");
	free(path);
}

Test(plugin, name_must_match_file)
{
	char	*path = bad_path("bad_name");

	cr_assert_null(plugin_load(path));
	assert_logged("calls itself 'other_name' but its file is named "
	    "'bad_name.so'");
	free(path);
}

Test(plugin, missing_file_and_not_a_plugin)
{
	cr_assert_null(plugin_get("/nonexistent", "local"));
	assert_logged("/nonexistent/local.so: cannot load plugin");
	cr_assert_null(plugin_load("/lib/x86_64-linux-gnu/libz.so.1"));
	assert_logged("not a zentoria-backupd plugin (no zb_plugin symbol)");
}

Test(plugin, good_plugins_load)
{
	struct plugin	*p = plugin_get(test_plugin_dir(), "local");

	cr_assert_not_null(p, "%s", test_logged());
	cr_assert_str_eq(p->desc.name, "local");
	cr_assert(p->desc.kind & ZB_KIND_SINK);
	cr_assert_eq(plugin_get(test_plugin_dir(), "local"), p, "cached");
	plugin_unload_all();
}

Test(plugin, plugin_keys_are_checked_with_lines)
{
	struct zb_config *cfg = test_config(
	    "[daemon]\nplugin_dir = %s\n"
	    "[source:c]\nplugin = command\ncommand = true\ncomand = x\n"
	    "[sink:k]\nplugin = local\npath = /tmp/x\n"
	    "[source:wrong]\nplugin = local\npath = /tmp\n",
	    test_plugin_dir());

	cr_assert_not_null(cfg, "%s", test_logged());
	cr_assert_gt(plugin_bind_config(cfg, 1), 0);
	assert_logged("test.ini:6: [source:c] comand: unknown key (expected "
	    "one of: plugin, command, restore_command");
	assert_logged("test.ini:11: [source:wrong] plugin: plugin 'local' "
	    "cannot be a source");
	plugin_unbind_config(cfg);
	config_free(cfg);
	plugin_unload_all();
}

Test(plugin, init_errors_name_the_key)
{
	struct zb_config *cfg = test_config(
	    "[daemon]\nplugin_dir = %s\n"
	    "[sink:k]\nplugin = local\npath = relative/dir\n",
	    test_plugin_dir());

	cr_assert_gt(plugin_bind_config(cfg, 1), 0);
	assert_logged("test.ini:5: [sink:k] path: must be an absolute path");
	plugin_unbind_config(cfg);
	config_free(cfg);
	plugin_unload_all();
}
