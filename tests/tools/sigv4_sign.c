/*
 * sigv4_sign.c - check-only helper: sign one request described on stdin
 * with plugins/s3/sigv4.c and print the headers, for sigv4_crosscheck.py.
 *
 * Input, one item per line, "keyword value" split at the first space;
 * the value is the rest of the line, raw (no decoding, only the newline
 * removed):
 *	method GET
 *	host bucket.s3.amazonaws.com
 *	path /key with spaces		(unencoded)
 *	query name=value		(may repeat; no '=' means no value)
 *	header Name: value		(may repeat)
 *	payload_sha256 <hex>|UNSIGNED-PAYLOAD|STREAMING-...
 *	region us-east-1
 *	service s3			(optional)
 *	access AKID
 *	secret SECRET
 *	time 1700000000
 * Output: "x-amz-date: ...", "x-amz-content-sha256: ..." and
 * "Authorization: ..." lines; with -v the canonical request and the
 * string to sign go to stderr.  Exit 0, or 1 with a message.
 *
 * Invariants: every line is at most LINE_MAX_LEN bytes and the counts
 * of query parameters and headers are those sigv4.h caps.
 */
#include "zb-build.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"
#include "util.h"
#include "sigv4.h"

/* sigv4.c's buffers go through the host table (plugins/s3/s3_buf.h). */
const struct zb_host_api *s3_host;

#define LINE_MAX_LEN	(32 * 1024)

struct input {
	struct sigv4_req	 req;
	struct sigv4_param	 query[SIGV4_MAX_QUERY];
	struct sigv4_header	 headers[SIGV4_MAX_HEADERS];
	char			*strings[8 + SIGV4_MAX_QUERY +
				    SIGV4_MAX_HEADERS];
	size_t			 nstrings;
};

static char *
keep(struct input *in, const char *s)
{
	char	*p = xstrdup(s);

	in->strings[in->nstrings++] = p;
	return p;
}

static const char *
set_scalar(struct input *in, const char *kw, const char *v)
{
	const char	**fields[] = { &in->req.method, &in->req.host,
	    &in->req.path, &in->req.payload_hash, &in->req.region,
	    &in->req.service, &in->req.access_key, &in->req.secret_key };
	const char	 *names[] = { "method", "host", "path",
	    "payload_sha256", "region", "service", "access", "secret" };
	const char	 *errstr;
	int64_t		  t;
	size_t		  i;

	if (strcmp(kw, "time") == 0) {
		if (parse_int(v, 0, INT32_MAX, &t, &errstr) == -1)
			return errstr;
		in->req.when = (time_t)t;
		return NULL;
	}
	for (i = 0; i < ZB_NELEM(names); i++) {
		if (strcmp(kw, names[i]) != 0)
			continue;
		if (*fields[i] != NULL)
			return "given twice";
		*fields[i] = keep(in, v);
		return NULL;
	}
	return "unknown keyword";
}

static const char *
parse_line(struct input *in, char *line)
{
	char	*v, *sep;

	v = strchr(line, ' ');
	if (v == NULL)
		return "no value";
	*v++ = '\0';
	if (strcmp(line, "query") == 0) {
		if (in->req.nquery == SIGV4_MAX_QUERY)
			return "too many query parameters";
		v = keep(in, v);
		sep = strchr(v, '=');
		if (sep != NULL)
			*sep++ = '\0';
		in->query[in->req.nquery].name = v;
		in->query[in->req.nquery++].value = sep;
		return NULL;
	}
	if (strcmp(line, "header") == 0) {
		if (in->req.nheaders == SIGV4_MAX_HEADERS)
			return "too many headers";
		v = keep(in, v);
		sep = strchr(v, ':');
		if (sep == NULL)
			return "header without ':'";
		*sep++ = '\0';
		in->headers[in->req.nheaders].name = v;
		in->headers[in->req.nheaders++].value = sep;
		return NULL;
	}
	return set_scalar(in, line, v);
}

int
main(int argc, char *argv[])
{
	struct input		 in;
	struct sigv4_out	 out;
	static char		 line[LINE_MAX_LEN + 2];
	const char		*err = NULL;
	size_t			 len, lineno = 0, i;
	int			 verbose = 0, rc = 1;

	s3_host = hostapi_get();
	if (argc == 2 && strcmp(argv[1], "-v") == 0)
		verbose = 1;
	else if (argc != 1) {
		fprintf(stderr, "usage: sigv4_sign [-v] < request\n");
		return 2;
	}
	memset(&in, 0, sizeof(in));
	in.req.query = in.query;
	in.req.headers = in.headers;
	while (err == NULL && fgets(line, sizeof(line), stdin) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(stdin))
			err = "line too long";
		if (err == NULL && len > 0)
			err = parse_line(&in, line);
	}
	sigv4_out_init(&out);
	if (err != NULL)
		fprintf(stderr, "sigv4_sign: line %zu: %s\n", lineno, err);
	else if (sigv4_sign(&in.req, &out, &err) == -1)
		fprintf(stderr, "sigv4_sign: %s\n", err);
	else {
		if (verbose)
			fprintf(stderr, "%s\n--\n%s\n", out.canonical.data,
			    out.string_to_sign.data);
		printf("x-amz-date: %s\nx-amz-content-sha256: %s\n"
		    "Authorization: %s\n", out.amz_date, out.content_sha256,
		    out.authorization.data);
		rc = 0;
	}
	sigv4_out_free(&out);
	for (i = 0; i < in.nstrings; i++)
		free(in.strings[i]);
	return rc;
}
