/*
 * test_vault_kv.c - vault:MOUNT/PATH#KEY references: the parser, the URL
 * path, the [vault] section's checks, and the resolved values' life
 * (copied with a section, compared by config_section_same, wiped).
 */
#include "zb-build.h"

#include "vault_kv.h"
#include "testlib.h"

TestSuite(vault_kv, .init = test_log_start);

static void
parses(const char *v, const char *mount, const char *path, const char *key)
{
	struct vault_ref	 ref;
	const char		*errstr = "unset";

	cr_assert_eq(vault_ref_parse(v, &ref, &errstr), 0, "%s: %s", v,
	    errstr);
	cr_assert_null(errstr);
	cr_assert_str_eq(ref.mount, mount, "%s", v);
	cr_assert_str_eq(ref.path, path, "%s", v);
	cr_assert_str_eq(ref.key, key, "%s", v);
	vault_ref_free(&ref);
}

static void
refused(const char *v)
{
	struct vault_ref	 ref;
	const char		*errstr = NULL;

	cr_assert_eq(vault_ref_parse(v, &ref, &errstr), -1, "accepted: %s", v);
	cr_assert_not_null(errstr);
	cr_assert(strstr(errstr, "vault:MOUNT/PATH#KEY") != NULL);
	cr_assert_null(ref.mount, "nothing allocated on refusal");
	cr_assert_eq(vault_ref_parse(v, NULL, &errstr), -1);
}

Test(vault_kv, good_references)
{
	parses("vault:secret/zentoria/backup/postgresql#password", "secret",
	    "zentoria/backup/postgresql", "password");
	parses("vault:kv/a#k", "kv", "a", "k");
	/* the first '#' ends the path; the key may hold anything printable */
	parses("vault:kv/a/b#k#2 x", "kv", "a/b", "k#2 x");
	parses("vault:s-1/a.b_c~d/e@f:g+h#user.name", "s-1", "a.b_c~d/e@f:g+h",
	    "user.name");
	parses("vault:m/.hidden/..x#k", "m", ".hidden/..x", "k");
}

Test(vault_kv, bad_references)
{
	refused("vault:");
	refused("vault:secret#k");		/* no path */
	refused("vault:/a#k");			/* empty mount */
	refused("vault:secret/#k");		/* empty path */
	refused("vault:secret/a#");		/* empty key */
	refused("vault:secret/a");		/* no key */
	refused("vault:secret//a#k");		/* empty segment */
	refused("vault:secret/a/#k");
	refused("vault:secret/a/../b#k");	/* dot segments */
	refused("vault:secret/./a#k");
	refused("vault:secret/..#k");
	refused("vault:../a#k");
	refused("vault:secret/a b#k");		/* space */
	refused("vault:secret/a?x=1#k");	/* query */
	refused("vault:secret/a%2f#k");		/* pre-encoded */
	refused("vault:secret/a\\b#k");
	refused("vault:secret/a\tb#k");
	refused("vault:secret/\xc3\xa9#k");	/* non-ASCII path */
	refused("vault:secret/a#k\n");		/* control char in the key */
	refused("vault:secret/a#k\x7f");
	refused("env:X");
	refused("Vault:secret/a#k");
}

Test(vault_kv, long_reference_refused)
{
	char	 v[VAULT_REF_MAX + 16], path[VAULT_REF_MAX];

	memset(v, 'a', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	memcpy(v, "vault:m/", 8);
	v[sizeof(v) - 3] = '#';
	refused(v);
	/* exactly VAULT_REF_MAX bytes: "vault:m/aaa...a#a" */
	v[VAULT_REF_MAX] = '\0';
	v[VAULT_REF_MAX - 2] = '#';
	memset(path, 'a', VAULT_REF_MAX - 10);
	path[VAULT_REF_MAX - 10] = '\0';
	parses(v, "m", path, "a");
}

Test(vault_kv, url_path_encodes_segments)
{
	struct vault_ref	 ref;
	const char		*errstr;
	char			*u;

	cr_assert_eq(vault_ref_parse("vault:secret/zentoria/backup/pg#p",
	    &ref, &errstr), 0);
	u = vault_ref_url_path(&ref);
	cr_assert_str_eq(u, "/v1/secret/data/zentoria/backup/pg");
	free(u);
	vault_ref_free(&ref);
	cr_assert_eq(vault_ref_parse("vault:my:kv/a@b/c+d=e#k", &ref,
	    &errstr), 0);
	u = vault_ref_url_path(&ref);
	cr_assert_str_eq(u, "/v1/my%3Akv/data/a%40b/c%2Bd%3De");
	free(u);
	vault_ref_free(&ref);
}

static const struct zb_option secret_opts[] = {
	{ "password", ZB_OPT_SECRET, NULL, 0, "a secret", 0, 0 },
	{ "api_key", ZB_OPT_SECRET, NULL, 0, "a secret", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

#define LOAD(text) config_load_buf("test.ini", (text), strlen(text), 0)

Test(vault_kv, reference_without_vault_section)
{
	struct zb_config	*cfg = LOAD("[source:s]\nplugin = x\n"
	    "password = vault:secret/a#p\n");
	int			 errors = -1;

	cr_assert_not_null(cfg, "log: %s", test_logged());
	cr_assert_eq(config_check_keys(cfg, config_section(cfg, "source:s"),
	    config_core_options(CFG_SOURCE), secret_opts), 0);
	cr_assert_null(vault_kv_plan(cfg, &errors));
	cr_assert_eq(errors, 1);
	assert_logged("test.ini:3: [source:s] password: vault:secret/a#p "
	    "needs a [vault] section");
	config_free(cfg);
}

Test(vault_kv, no_reference_no_plan)
{
	struct zb_config	*cfg = LOAD("[vault]\n"
	    "address = http://127.0.0.1:1\ntoken_file = /nonexistent\n"
	    "[source:s]\nplugin = x\npassword = env:X\n");
	int			 errors = -1;

	/* the token file is checked (missing), so the load fails ... */
	cr_assert_null(cfg);
	assert_logged("test.ini:3: [vault] token_file: /nonexistent:");
	/* ... and without a reference nothing is planned (no login) */
	cfg = LOAD("[source:s]\nplugin = x\npassword = env:X\n");
	cr_assert_not_null(cfg);
	cr_assert_null(vault_kv_plan(cfg, &errors));
	cr_assert_eq(errors, 0);
	cr_assert_eq(vault_kv_resolve(cfg), 0);
	config_free(cfg);
}

Test(vault_kv, vault_section_checks)
{
	cr_assert_null(LOAD("[vault]\naddress = http://x\n"));
	assert_logged("test.ini:1: [vault] missing token_file (or "
	    "approle_role_id_file and approle_secret_id_file)");
	test_log.len = 0;
	cr_assert_null(LOAD("[vault]\naddress = vault.example:8200\n"
	    "approle_secret_id_file = /x\n"));
	assert_logged("test.ini:2: [vault] address: 'vault.example:8200' is "
	    "not an http:// or https:// URL");
	assert_logged("test.ini:3: [vault] approle_role_id_file and "
	    "approle_secret_id_file go together");
	test_log.len = 0;
	cr_assert_null(LOAD("[vault]\naddress = http://x\ntoken = t\n"
	    "timeout = 1h\n"));
	assert_logged("test.ini:3: [vault] token: unknown key");
	assert_logged("test.ini:4: [vault] timeout: '1h' is not a value from "
	    "100 to 300000 milliseconds");
	test_log.len = 0;
	cr_assert_null(LOAD("[vault:x]\n"));
	assert_logged("test.ini:1: [vault:x] unknown section kind (expected "
	    "[daemon], [vault],");
}

Test(vault_kv, resolved_values_follow_the_section)
{
	struct zb_config	*cfg = LOAD("[source:s]\nplugin = x\n"
	    "password = vault:secret/a#p\napi_key_file = vault:secret/a#k\n");
	struct cfg_section	*sec, *dup;
	struct cfg_kv		*kv;

	cr_assert_not_null(cfg, "log: %s", test_logged());
	sec = config_section(cfg, "source:s");
	cr_assert_eq(config_check_keys(cfg, sec,
	    config_core_options(CFG_SOURCE), secret_opts), 0);
	kv = config_kv(sec, "password");
	kv->secret = xstrdup("s3cr3t");
	kv->secretlen = 6;
	dup = config_section_dup(sec);
	cr_assert_str_eq(config_kv(dup, "password")->secret, "s3cr3t");
	cr_assert_eq(config_kv(dup, "password")->secretlen, 6);
	cr_assert(config_kv(dup, "password")->vault);
	cr_assert(config_kv(dup, "api_key_file")->vault);
	cr_assert_null(config_kv(dup, "api_key_file")->secret);
	cr_assert(config_section_same(sec, dup));
	/* a secret rotated in Vault: not the same section any more */
	config_kv(dup, "password")->secret[0] = 'S';
	cr_assert_not(config_section_same(sec, dup));
	vault_kv_wipe(config_kv(dup, "password")->secret, 6);
	config_kv(dup, "password")->secret = NULL;
	cr_assert_not(config_section_same(sec, dup));
	config_section_free(dup);
	config_free(cfg);
}
