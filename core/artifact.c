/*
 * artifact.c - manifests: building, parsing and checking them, and the
 * facts they carry.  The keys and ids they live under are layout.c's.
 *
 * The manifest is the commit marker and the only thing list, verify and
 * restore trust; manifest_parse() therefore checks every field it later
 * relies on (names that become paths, hashes, sizes).
 *
 * A run is a unit: every manifest also records its run (the run's stamp
 * and every stream the run planned), so that any single sink tells
 * whether a run is complete there (catalog.c) without a database.
 */
#include "zb-build.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "age.h"
#include "artifact.h"
#include "buf.h"
#include "layout.h"
#include "retention.h"
#include "util.h"

void
facts_add(struct fact **head, const char *group, const char *key,
    const char *str, int64_t num)
{
	struct fact	*f, **tail;

	f = xcalloc(1, sizeof(*f));
	f->group = group != NULL ? xstrdup(group) : NULL;
	f->key = xstrdup(key);
	f->str = str != NULL ? xstrdup(str) : NULL;
	f->num = num;
	for (tail = head; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = f;
}

void
facts_free(struct fact *f)
{
	struct fact	*next;

	for (; f != NULL; f = next) {
		next = f->next;
		free(f->group);
		free(f->key);
		free(f->str);
		free(f);
	}
}

static int
fact_value(struct buf *b, const struct fact *f)
{
	if (f->str != NULL)
		return buf_json_str(b, f->str);
	return buf_printf(b, "%" PRId64, f->num);
}

/* facts as a JSON object: top-level ones, then one object per group. */
static int
facts_json(struct buf *b, const struct fact *facts)
{
	const struct fact	*f, *g, *h;
	int			 first = 1, gfirst, seen;

	if (buf_puts(b, "{") == -1)
		return -1;
	for (f = facts; f != NULL; f = f->next) {
		if (f->group != NULL)
			continue;
		if (buf_puts(b, first ? "\n    " : ",\n    ") == -1 ||
		    buf_json_str(b, f->key) == -1 || buf_puts(b, ": ") == -1 ||
		    fact_value(b, f) == -1)
			return -1;
		first = 0;
	}
	for (g = facts; g != NULL; g = g->next) {
		if (g->group == NULL)
			continue;
		for (seen = 0, h = facts; h != g; h = h->next)
			if (h->group != NULL && strcmp(h->group, g->group) == 0)
				seen = 1;
		if (seen)
			continue;
		if (buf_puts(b, first ? "\n    " : ",\n    ") == -1 ||
		    buf_json_str(b, g->group) == -1 || buf_puts(b, ": {") == -1)
			return -1;
		first = 0;
		gfirst = 1;
		for (h = g; h != NULL; h = h->next) {
			if (h->group == NULL || strcmp(h->group, g->group) != 0)
				continue;
			if (buf_puts(b, gfirst ? "\n      " : ",\n      ") ==
			    -1 || buf_json_str(b, h->key) == -1 ||
			    buf_puts(b, ": ") == -1 || fact_value(b, h) == -1)
				return -1;
			gfirst = 0;
		}
		if (buf_puts(b, "\n    }") == -1)
			return -1;
	}
	return buf_puts(b, first ? "}" : "\n  }");
}

static int
collect(void *arg, const void *p, size_t n)
{
	return buf_add(arg, p, n);
}

/*
 * The facts (table names, file counts, ...) of an encrypted artifact are
 * themselves an age file, base64 in the manifest: they would otherwise
 * tell in clear what the encrypted data holds.
 */
static int
facts_sealed(struct buf *b, const struct fact *facts,
    const struct age_keys *age)
{
	struct buf	 plain, sealed;
	struct age_enc	*enc;
	char		 err[256];
	unsigned char	*b64;
	int		 rc = -1, n;

	buf_init(&plain, MANIFEST_MAX / 2);
	buf_init(&sealed, MANIFEST_MAX / 2);
	enc = age_enc_new(age, err, sizeof(err));
	if (enc == NULL || facts_json(&plain, facts) == -1 ||
	    age_enc_update(enc, plain.data, plain.len, collect, &sealed) != 0 ||
	    age_enc_finish(enc, collect, &sealed) != 0)
		goto out;
	b64 = xmalloc(4 * (sealed.len / 3 + 1) + 1);
	n = EVP_EncodeBlock(b64, (unsigned char *)sealed.data,
	    (int)sealed.len);
	rc = buf_printf(b, "\"%.*s\"", n, b64);
	free(b64);
out:
	age_enc_free(enc);
	if (plain.data != NULL)
		OPENSSL_cleanse(plain.data, plain.len);
	buf_free(&plain);
	buf_free(&sealed);
	return rc;
}

static int
transforms_json(struct buf *b, const struct manifest_in *m)
{
	char	 comp[32];
	size_t	 i;

	config_compression_str(m->comp, comp, sizeof(comp));
	if (buf_printf(b, "{\"compression\": \"%s\", \"encryption\": "
	    "\"%s\"", comp, m->age != NULL ? "age" : "none") == -1)
		return -1;
	if (m->age != NULL) {
		(void)buf_puts(b, ", \"recipients\": [");
		for (i = 0; i < age_keys_count(m->age); i++) {
			(void)buf_puts(b, i > 0 ? ", " : "");
			(void)buf_json_str(b, age_keys_fingerprint(m->age, i));
		}
		(void)buf_puts(b, "]");
	}
	return buf_puts(b, "}");
}

/* "run": {"job": ..., "stamp": ..., "streams": [...][, "tag": ...]} */
static int
run_json(struct buf *b, const struct manifest_in *m)
{
	size_t	 i;

	if (buf_puts(b, ",\n  \"run\": {\"job\": ") == -1 ||
	    buf_json_str(b, m->job) == -1 ||
	    buf_puts(b, ", \"stamp\": ") == -1 ||
	    buf_json_str(b, m->run_stamp != NULL ? m->run_stamp : m->stamp) ==
	    -1 ||
	    buf_puts(b, ", \"streams\": [") == -1)
		return -1;
	for (i = 0; i < m->run_nstreams; i++)
		if (buf_puts(b, i > 0 ? ", " : "") == -1 ||
		    buf_json_str(b, m->run_streams[i]) == -1)
			return -1;
	if (buf_puts(b, "]") == -1 || (m->run_tag != NULL &&
	    (buf_puts(b, ", \"tag\": ") == -1 ||
	    buf_json_str(b, m->run_tag) == -1)))
		return -1;
	return buf_puts(b, "}");
}

/*
 * What checks the plaintext when its SHA-256 is not recorded: the codec's
 * own checksum (zstd's frame checksum, gzip's CRC-32), else age's tags.
 */
static const char *
plain_check_name(const struct compression *comp, int encrypted)
{
	if (comp->algo == COMP_ZSTD)
		return "zstd";
	if (comp->algo == COMP_GZIP)
		return "gzip";
	return encrypted ? "age" : NULL;
}

char *
manifest_build(const struct manifest_in *m)
{
	struct buf	 b;
	char		 started[ZB_ISOTIME_LEN], finished[ZB_ISOTIME_LEN];
	char		 host[256];

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	isotime_format(m->started, started, sizeof(started));
	isotime_format(m->finished, finished, sizeof(finished));
	buf_init(&b, MANIFEST_MAX);
	if (buf_printf(&b, "{\n  \"format\": \"%s\",\n  \"format_version\": "
	    "%d,\n  \"id\": ", MANIFEST_FORMAT, MANIFEST_VERSION) == -1 ||
	    buf_json_str(&b, m->id) == -1 ||
	    buf_puts(&b, ",\n  \"job\": ") == -1 ||
	    buf_json_str(&b, m->job) == -1 ||
	    buf_puts(&b, ",\n  \"source\": ") == -1 ||
	    buf_json_str(&b, m->source) == -1 ||
	    buf_puts(&b, ",\n  \"stream\": ") == -1 ||
	    buf_json_str(&b, m->stream) == -1 ||
	    buf_puts(&b, ",\n  \"time\": ") == -1 ||
	    buf_json_str(&b, m->stamp) == -1 ||
	    (m->run_streams != NULL && run_json(&b, m) == -1) ||
	    buf_puts(&b, ",\n  \"host\": ") == -1 ||
	    buf_json_str(&b, host) == -1 ||
	    buf_printf(&b, ",\n  \"started\": \"%s\",\n  \"finished\": "
	    "\"%s\",\n  \"producer\": {\"name\": \"%s\", \"version\": "
	    "\"%s\"},\n  \"source_plugin\": {\"name\": ", started, finished,
	    PACKAGE_NAME, PACKAGE_VERSION) == -1 ||
	    buf_json_str(&b, m->source_plugin) == -1 ||
	    buf_puts(&b, ", \"version\": ") == -1 ||
	    buf_json_str(&b, m->source_plugin_version) == -1 ||
	    buf_puts(&b, "},\n  \"sink\": {\"name\": ") == -1 ||
	    buf_json_str(&b, m->sink) == -1 ||
	    buf_puts(&b, ", \"plugin\": ") == -1 ||
	    buf_json_str(&b, m->sink_plugin) == -1 ||
	    buf_puts(&b, ", \"version\": ") == -1 ||
	    buf_json_str(&b, m->sink_plugin_version) == -1 ||
	    buf_puts(&b, "},\n  \"data\": ") == -1 ||
	    buf_json_str(&b, m->data) == -1 ||
	    buf_printf(&b, ",\n  \"stored\": {\"size\": %" PRIu64 ", "
	    "\"sha256\": \"%s\"},\n  \"plaintext\": {\"size\": %" PRIu64 ", "
	    "\"%s\": \"%s\"},\n  \"transforms\": ",
	    m->stored_size, m->stored_sha, m->plain_size,
	    m->plain_sha[0] != '\0' ? "sha256" : "check",
	    m->plain_sha[0] != '\0' ? m->plain_sha :
	    plain_check_name(m->comp, m->age != NULL)) == -1 ||
	    transforms_json(&b, m) == -1 ||
	    buf_puts(&b, m->age != NULL ? ",\n  \"facts_age\": " :
	    ",\n  \"facts\": ") == -1 ||
	    (m->age != NULL ? facts_sealed(&b, m->facts, m->age) :
	    facts_json(&b, m->facts)) == -1 ||
	    buf_puts(&b, "\n}\n") == -1) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

static int
get_sized_hash(const struct json *doc, const char *key, uint64_t *size,
    char *sha)
{
	const struct json	*o = json_get(doc, key);
	const char		*h;
	int64_t			 n;

	if (o == NULL || json_get_i64(o, "size", &n) == -1 || n < 0)
		return -1;
	h = json_get_str(o, "sha256");
	if (h == NULL || !is_hex_sha256(h))
		return -1;
	*size = (uint64_t)n;
	memcpy(sha, h, 65);
	return 0;
}

/*
 * "plaintext": its size, and its SHA-256, or (version 2) the name of the
 * check that covers it, which must be the one the transforms give.
 */
static int
plaintext_parse(struct artifact *a, int64_t ver, const char **err)
{
	const struct json	*o = json_get(a->doc, "plaintext");
	const char		*want, *c;
	int64_t			 n;

	if (json_get(o, "sha256") != NULL || ver < 2) {
		if (get_sized_hash(a->doc, "plaintext", &a->plain_size,
		    a->plain_sha) == -1) {
			*err = "bad or missing size/sha256";
			return -1;
		}
		return 0;
	}
	want = plain_check_name(&a->comp, a->encrypted);
	c = json_get_str(o, "check");
	if (json_get_i64(o, "size", &n) == -1 || n < 0 || c == NULL ||
	    want == NULL || strcmp(c, want) != 0) {
		*err = "bad or missing plaintext size/sha256 or check";
		return -1;
	}
	a->plain_size = (uint64_t)n;
	a->plain_sha[0] = '\0';
	snprintf(a->plain_check, sizeof(a->plain_check), "%s", c);
	return 0;
}

static int
cmp_strp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/*
 * The optional "run" object: the run's stamp and its planned streams
 * (valid names, no duplicates, at most MANIFEST_MAX_STREAMS, this
 * artifact's stream among them), and its optional tag (a valid tag:
 * retention.h).
 */
static int
run_parse(struct artifact *a, const char **err)
{
	const struct json	*r, *v, *e, *tag;
	const char		*s;
	char			**sorted;
	size_t			 n = 0, i;
	time_t			 t;
	int			 own = 0, dup = 0;

	r = json_get(a->doc, "run");
	if (r == NULL)
		return 0;
	*err = "bad \"run\": not an object with job, stamp and streams";
	if (r->type != JSON_OBJECT || json_get_str(r, "job") == NULL)
		return -1;
	s = json_get_str(r, "stamp");
	if (s == NULL || stamp_parse(s, &t) == -1) {
		*err = "bad \"run\": bad or missing stamp";
		return -1;
	}
	v = json_get(r, "streams");
	if (v == NULL || v->type != JSON_ARRAY)
		return -1;
	tag = json_get(r, "tag");
	if (tag != NULL && (tag->type != JSON_STRING ||
	    !retention_tag_valid(tag->str))) {
		*err = "bad \"run\": a tag is letters, digits, '_', '.', "
		    "'-', 1-31 bytes";
		return -1;
	}
	for (e = v->child; e != NULL; e = e->next) {
		if (e->type != JSON_STRING || !valid_name(e->str)) {
			*err = "bad \"run\": a stream name is not valid";
			return -1;
		}
		if (++n > MANIFEST_MAX_STREAMS) {
			*err = "bad \"run\": too many streams";
			return -1;
		}
	}
	a->run_stamp = xstrdup(s);
	a->run_tag = tag != NULL ? xstrdup(tag->str) : NULL;
	a->run_streams = xcalloc(n > 0 ? n : 1, sizeof(*a->run_streams));
	for (e = v->child; e != NULL; e = e->next) {
		a->run_streams[a->run_nstreams++] = xstrdup(e->str);
		if (strcmp(e->str, a->stream) == 0)
			own = 1;
	}
	sorted = xcalloc(n > 0 ? n : 1, sizeof(*sorted));
	memcpy(sorted, a->run_streams, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_strp);
	for (i = 1; i < n; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			dup = 1;
	free(sorted);
	if (dup) {
		*err = "bad \"run\": a stream is listed twice";
		return -1;
	}
	if (!own) {
		*err = "bad \"run\": the artifact's stream is not among "
		    "the run's streams";
		return -1;
	}
	return 0;
}

int
manifest_parse(const char *text, size_t len, struct artifact *a,
    const char **err)
{
	const struct json	*t, *sp;
	const char		*s, *jerr, *comp;
	size_t			 pos;
	int64_t			 ver;

	memset(a, 0, sizeof(*a));
	a->doc = json_parse(text, len, &jerr, &pos);
	if (a->doc == NULL) {
		*err = jerr;
		return -1;
	}
	s = json_get_str(a->doc, "format");
	if (s == NULL || strcmp(s, MANIFEST_FORMAT) != 0) {
		*err = "not a zentoria-backupd manifest";
		goto fail;
	}
	if (json_get_i64(a->doc, "format_version", &ver) == -1 ||
	    ver < MANIFEST_VERSION_MIN || ver > MANIFEST_VERSION) {
		*err = "unsupported manifest format_version";
		goto fail;
	}
	s = json_get_str(a->doc, "id");
	if (s == NULL || layout_parse_id(s, &a->source, &a->stream,
	    &a->stamp) == -1) {
		*err = "bad or missing id";
		goto fail;
	}
	a->id = xstrdup(s);
	(void)stamp_parse(a->stamp, &a->time);
	a->dir = layout_artifact_dir(a->source, a->stream, a->stamp);
	s = json_get_str(a->doc, "job");
	a->job = xstrdup(s != NULL ? s : "");
	s = json_get_str(a->doc, "data");
	if (s == NULL || !layout_valid_data_name(s)) {
		*err = "bad or missing data name";
		goto fail;
	}
	a->data = xstrdup(s);
	sp = json_get(a->doc, "source_plugin");
	s = json_get_str(sp, "name");
	a->source_plugin = xstrdup(s != NULL ? s : "");
	if (get_sized_hash(a->doc, "stored", &a->stored_size,
	    a->stored_sha) == -1) {
		*err = "bad or missing size/sha256";
		goto fail;
	}
	t = json_get(a->doc, "transforms");
	comp = json_get_str(t, "compression");
	if (comp == NULL ||
	    config_parse_compression(comp, &a->comp, &jerr) == -1) {
		*err = "bad or missing compression";
		goto fail;
	}
	s = json_get_str(t, "encryption");
	if (s == NULL || (strcmp(s, "none") != 0 && strcmp(s, "age") != 0)) {
		*err = "encrypted with a scheme this version cannot read";
		goto fail;
	}
	a->encrypted = strcmp(s, "age") == 0;
	if (plaintext_parse(a, ver, err) == -1)
		goto fail;
	if (run_parse(a, err) == -1)
		goto fail;
	return 0;
fail:
	artifact_clear(a);
	return -1;
}

void
artifact_clear(struct artifact *a)
{
	free(a->id);
	free(a->job);
	free(a->source);
	free(a->stream);
	free(a->stamp);
	free(a->dir);
	free(a->data);
	free(a->source_plugin);
	free(a->sink);
	free(a->run_stamp);
	free(a->run_tag);
	strv_free(a->run_streams, a->run_nstreams);
	json_free(a->doc);
	memset(a, 0, sizeof(*a));
}

/* One member of a facts object: a string, or an integer as written. */
static int
fact_from_json(struct fact **out, const char *group, const struct json *m)
{
	int64_t	 num = 0;

	if (m->type == JSON_STRING) {
		facts_add(out, group, m->key, m->str, 0);
		return 0;
	}
	if (m->type != JSON_NUMBER || json_get_i64_value(m, &num) == -1)
		return -1;
	facts_add(out, group, m->key, m->str, num);
	return 0;
}

static int
facts_from_json(const struct json *obj, struct fact **out)
{
	const struct json	*m, *g;

	if (obj == NULL || obj->type != JSON_OBJECT)
		return -1;
	for (m = obj->child; m != NULL; m = m->next) {
		if (m->type != JSON_OBJECT) {
			if (fact_from_json(out, NULL, m) == -1)
				return -1;
			continue;
		}
		for (g = m->child; g != NULL; g = g->next)
			if (fact_from_json(out, m->key, g) == -1)
				return -1;
	}
	return 0;
}

/* Open facts_age: base64 of an age file holding the facts' JSON. */
static struct json *
facts_unseal(const char *b64, const struct age_keys *ids, const char **err)
{
	struct age_dec	*dec;
	struct buf	 plain;
	struct json	*doc = NULL;
	unsigned char	*raw;
	size_t		 len = strlen(b64), pos;
	int		 n, pad = 0;

	if (len == 0 || len % 4 != 0 || len > MANIFEST_MAX) {
		*err = "facts_age is not base64";
		return NULL;
	}
	pad = (b64[len - 1] == '=') + (b64[len - 2] == '=');
	raw = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (n < pad) {
		free(raw);
		*err = "facts_age is not base64";
		return NULL;
	}
	buf_init(&plain, MANIFEST_MAX);
	dec = age_dec_new(ids);
	if (dec == NULL ||
	    age_dec_update(dec, raw, (size_t)(n - pad), collect, &plain) !=
	    AGE_OK || age_dec_finish(dec, collect, &plain) != AGE_OK)
		*err = "facts_age cannot be decrypted with the identities given";
	else if ((doc = json_parse(plain.data, plain.len, err, &pos)) == NULL)
		*err = "facts_age does not hold JSON";
	age_dec_free(dec);
	if (plain.data != NULL)
		OPENSSL_cleanse(plain.data, plain.len);
	buf_free(&plain);
	free(raw);
	return doc;
}

int
artifact_facts(const struct artifact *a, const struct age_keys *ids,
    struct fact **out, const char **err)
{
	struct json	*doc = NULL;
	const char	*sealed;
	int		 rc;

	*out = NULL;
	if (!a->encrypted) {
		if (facts_from_json(json_get(a->doc, "facts"), out) == 0)
			return 0;
		*err = "bad facts in the manifest";
		goto fail;
	}
	sealed = json_get_str(a->doc, "facts_age");
	if (sealed == NULL) {
		*err = "no facts_age in the manifest of an encrypted artifact";
		return -1;
	}
	if (ids == NULL) {
		*err = "the facts are encrypted and no identity was given";
		return -1;
	}
	doc = facts_unseal(sealed, ids, err);
	if (doc == NULL)
		return -1;
	rc = facts_from_json(doc, out);
	json_free(doc);
	if (rc == 0)
		return 0;
	*err = "bad facts in facts_age";
fail:
	facts_free(*out);
	*out = NULL;
	return -1;
}
