/*
 * test_plugin.c - the loader refuses bad plugins by name and reason, and
 * plugin options are checked with file:line.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

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

Test(plugin, pending_puts_need_both_entries)
{
	char	*path = bad_path("bad_pending");

	cr_assert_null(plugin_load(path));
	assert_logged("bad_pending.so: plugin refused: has only one of "
	    "list_pending() and remove_pending()");
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
	    "one of: plugin, require_encryption, command, restore_command");
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

/* ---- ownership and modes (sshd StrictModes) ------------------------------ */

/* Copy the real local.so to dir/local.so with mode. */
static char *
copy_local(const char *dir, mode_t mode)
{
	char	*src, *dst, *from, buf[65536];
	ssize_t	 n;
	int	 in, out;

	from = xasprintf("%s/local.so", test_plugin_dir());
	src = realpath(from, NULL);
	cr_assert_not_null(src, "%s", from);
	dst = xasprintf("%s/local.so", dir);
	in = open(src, O_RDONLY);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert(in != -1 && out != -1, "%s -> %s", src, dst);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, n), n);
	close(in);
	close(out);
	cr_assert_eq(chmod(dst, mode), 0);
	free(src);
	free(from);
	return dst;
}

static void
cleanup(char *dir, char *file)
{
	unlink(file);
	rmdir(dir);
	free(file);
	free(dir);
}

Test(plugin, a_private_copy_loads)
{
	char		*dir = test_tmpdir(), *so = copy_local(dir, 0755);
	struct plugin	*p = plugin_load(so);

	cr_assert_not_null(p, "%s", test_logged());
	plugin_unload(p);
	cleanup(dir, so);
}

Test(plugin, group_writable_file_is_refused_before_it_runs)
{
	char	*dir = test_tmpdir(), *so = copy_local(dir, 0775);
	char	*want;

	cr_assert_null(plugin_load(so));
	want = xasprintf("%s: plugin refused: file %s is writable by group "
	    "(mode 0775); chmod go-w it", so, so);
	assert_logged(want);
	free(want);
	cleanup(dir, so);
}

Test(plugin, directory_writable_by_others_is_refused)
{
	char	*dir = test_tmpdir(), *so = copy_local(dir, 0755);
	char	*want;

	cr_assert_eq(chmod(dir, 0777), 0);
	cr_assert_null(plugin_get(dir, "local"));
	want = xasprintf("%s: plugin refused: directory %s is writable by "
	    "others (mode 0777)", so, dir);
	assert_logged(want);
	free(want);
	/* A sticky /tmp-like directory is no better. */
	cr_assert_eq(chmod(dir, 01777), 0);
	cr_assert_null(plugin_load(so));
	assert_logged("(mode 1777)");
	cleanup(dir, so);
}

Test(plugin, a_symlink_target_and_its_directory_are_checked)
{
	char	*links = test_tmpdir(), *real = test_tmpdir();
	char	*so = copy_local(real, 0755), *link, *want;

	link = xasprintf("%s/local.so", links);
	cr_assert_eq(symlink(so, link), 0);
	cr_assert_eq(chmod(real, 0775), 0);
	cr_assert_null(plugin_load(link));
	want = xasprintf("%s: plugin refused: directory %s is writable by "
	    "group (mode 0775)", link, real);
	assert_logged(want);
	free(want);
	cr_assert_eq(chmod(real, 0755), 0);
	cr_assert_eq(chmod(so, 0757), 0);
	cr_assert_null(plugin_load(link));
	assert_logged("is writable by others (mode 0757)");
	cr_assert_eq(chmod(so, 0755), 0);
	cr_assert_not_null(plugin_load(link), "%s", test_logged());
	unlink(link);
	free(link);
	rmdir(links);
	free(links);
	cleanup(real, so);
}

Test(plugin, a_file_of_another_user_is_refused)
{
	char	*dir, *so, *want;

	if (geteuid() != 0)
		cr_skip_test("needs root to chown a file to nobody");
	dir = test_tmpdir();
	so = copy_local(dir, 0755);
	cr_assert_eq(chown(so, 65534, 65534), 0);
	cr_assert_null(plugin_load(so));
	want = xasprintf("%s: plugin refused: file %s is owned by uid 65534, "
	    "not by root or by uid 0 (this process)", so, so);
	assert_logged(want);
	free(want);
	cr_assert_eq(chown(so, 0, 0), 0);
	cr_assert_eq(chown(dir, 65534, 65534), 0);
	cr_assert_null(plugin_load(so));
	assert_logged("is owned by uid 65534");
	cleanup(dir, so);
}
