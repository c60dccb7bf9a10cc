/*
 * test_sigv4.c - AWS SigV4 for S3: AWS's published examples (canonical
 * request, string to sign, signature, chunk signatures) and the encoding
 * and header rules around them.
 */
#include "zb-build.h"

#include <errno.h>

#include "plugin.h"
#include "sigv4.h"
#include "testlib.h"

/* sigv4.c's buffers go through the host table (plugins/s3/s3_buf.h). */
const struct zb_host_api *s3_host;

static void __attribute__((constructor))
set_host(void)
{
	s3_host = hostapi_get();
}

#define AKID	"AKIAIOSFODNN7EXAMPLE"
#define SECRET	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST	"examplebucket.s3.amazonaws.com"
#define T0	((time_t)1369353600)	/* 20130524T000000Z */
#define EMPTY	SIGV4_EMPTY_SHA256
#define SCOPE	"20130524/us-east-1/s3/aws4_request"
#define STS(h)	"AWS4-HMAC-SHA256\n20130524T000000Z\n" SCOPE "\n" h

static struct sigv4_out out;
static const char *err;

static void
base(struct sigv4_req *r, const char *method, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->host = HOST;
	r->path = path;
	r->payload_hash = EMPTY;
	r->region = "us-east-1";
	r->access_key = AKID;
	r->secret_key = SECRET;
	r->when = T0;
	sigv4_out_init(&out);
	err = NULL;
}

static void
sign_ok(const struct sigv4_req *r)
{
	cr_assert_eq(sigv4_sign(r, &out, &err), 0, "sigv4_sign: %s", err);
}

#define assert_str(got, want)						\
	cr_assert_str_eq((got), (want), "\ngot:\n%s\nwant:\n%s", (got), (want))

/* The canonical query string: the third line of the canonical request. */
static const char *
query_line(void)
{
	static char	 line[4096];
	const char	*p, *e;

	p = strchr(out.canonical.data, '\n');
	cr_assert_not_null(p);
	p = strchr(p + 1, '\n');
	cr_assert_not_null(p);
	p++;
	e = strchr(p, '\n');
	cr_assert_not_null(e);
	cr_assert_lt((size_t)(e - p), sizeof(line));
	memcpy(line, p, e - p);
	line[e - p] = '\0';
	return line;
}

static const char *
uri_line(void)
{
	static char	 line[4096];
	const char	*p, *e;

	p = strchr(out.canonical.data, '\n') + 1;
	e = strchr(p, '\n');
	cr_assert_not_null(e);
	memcpy(line, p, e - p);
	line[e - p] = '\0';
	return line;
}

Test(sigv4, signing_key)
{
	unsigned char	 k[32];
	char		 hex[65];
	size_t		 i;

	cr_assert_eq(sigv4_signing_key(SECRET, "20130524", "us-east-1", "s3",
	    k), 0);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", k[i]);
	assert_str(hex, "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbea"
	    "fefa5ec6ba8378");
}

/* AWS example: GET Object with a Range header. */
Test(sigv4, aws_get_object)
{
	struct sigv4_req	 r;
	struct sigv4_header	 h[] = { { "Range", "bytes=0-9" } };

	base(&r, "GET", "/test.txt");
	r.headers = h;
	r.nheaders = 1;
	sign_ok(&r);
	assert_str(out.canonical.data, "GET\n/test.txt\n\n"
	    "host:" HOST "\n"
	    "range:bytes=0-9\n"
	    "x-amz-content-sha256:" EMPTY "\n"
	    "x-amz-date:20130524T000000Z\n"
	    "\n"
	    "host;range;x-amz-content-sha256;x-amz-date\n"
	    EMPTY);
	assert_str(out.string_to_sign.data, STS("7344ae5b7ee6c3e7e6b0fe06404"
	    "12a37625d1fbfff95c48bbb2dc43964946972"));
	assert_str(out.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170"
	    "aba48dd91039c6036bdb41");
	assert_str(out.authorization.data, "AWS4-HMAC-SHA256 Credential="
	    AKID "/" SCOPE ",SignedHeaders=host;range;x-amz-content-sha256;"
	    "x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170"
	    "aba48dd91039c6036bdb41");
	assert_str(out.amz_date, "20130524T000000Z");
	assert_str(out.content_sha256, EMPTY);
	sigv4_out_free(&out);
}

/* AWS example: PUT Object, key "test$file.text", with a Date header. */
Test(sigv4, aws_put_object)
{
	struct sigv4_req	 r;
	struct sigv4_header	 h[] = {
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" }
	};
	const char		*body = "Welcome to Amazon S3.";
	char			 ph[65];

	cr_assert_eq(sigv4_sha256_hex(body, strlen(body), ph), 0);
	assert_str(ph, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034"
	    "a8b803f8b072");
	base(&r, "PUT", "/test$file.text");
	r.payload_hash = ph;
	r.headers = h;
	r.nheaders = 2;
	sign_ok(&r);
	assert_str(out.canonical.data, "PUT\n/test%24file.text\n\n"
	    "date:Fri, 24 May 2013 00:00:00 GMT\n"
	    "host:" HOST "\n"
	    "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e"
	    "99e42034a8b803f8b072\n"
	    "x-amz-date:20130524T000000Z\n"
	    "x-amz-storage-class:REDUCED_REDUNDANCY\n"
	    "\n"
	    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	assert_str(out.string_to_sign.data, STS("9e0e90d9c76de8fa5b200d8c849"
	    "cd5b8dc7a3be3951ddb7f6a76b4158342019d"));
	assert_str(out.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380"
	    "cd77a1b5971af0ece108bd");
	sigv4_out_free(&out);
}

/* AWS example: GET Bucket lifecycle, a parameter without a value. */
Test(sigv4, aws_get_lifecycle)
{
	struct sigv4_req	 r;
	struct sigv4_param	 q[] = { { "lifecycle", NULL } };

	base(&r, "GET", "/");
	r.query = q;
	r.nquery = 1;
	sign_ok(&r);
	assert_str(out.canonical.data, "GET\n/\nlifecycle=\n"
	    "host:" HOST "\n"
	    "x-amz-content-sha256:" EMPTY "\n"
	    "x-amz-date:20130524T000000Z\n"
	    "\n"
	    "host;x-amz-content-sha256;x-amz-date\n"
	    EMPTY);
	assert_str(out.string_to_sign.data, STS("9766c798316ff2757b517bc739a"
	    "67f6213b4ab36dd5da2f94eaebf79c77395ca"));
	assert_str(out.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e"
	    "0f91ac7a200a0136783543");
	sigv4_out_free(&out);
}

/* AWS example: GET Bucket (list objects); parameters given unsorted. */
Test(sigv4, aws_list_objects)
{
	struct sigv4_req	 r;
	struct sigv4_param	 q[] = {
		{ "prefix", "J" }, { "max-keys", "2" }
	};

	base(&r, "GET", "/");
	r.query = q;
	r.nquery = 2;
	sign_ok(&r);
	assert_str(out.canonical.data, "GET\n/\nmax-keys=2&prefix=J\n"
	    "host:" HOST "\n"
	    "x-amz-content-sha256:" EMPTY "\n"
	    "x-amz-date:20130524T000000Z\n"
	    "\n"
	    "host;x-amz-content-sha256;x-amz-date\n"
	    EMPTY);
	assert_str(out.string_to_sign.data, STS("df57d21db20da04d7fa30298dd4"
	    "488ba3a2b47ca3a489c74750e0f1e7df1b9b7"));
	assert_str(out.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc5"
	    "9db6670ed5711ef69dc6f7");
	sigv4_out_free(&out);
}

/* AWS example: chunked upload, seed signature then three chunks. */
Test(sigv4, aws_streaming_chunks)
{
	struct sigv4_req	 r;
	struct sigv4_header	 h[] = {
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
		{ "Content-Encoding", "aws-chunked" },
		{ "x-amz-decoded-content-length", "66560" },
		{ "Content-Length", "66824" }
	};
	char			*data;

	base(&r, "PUT", "/examplebucket/chunkObject.txt");
	r.host = "s3.amazonaws.com";
	r.payload_hash = SIGV4_STREAMING_PAYLOAD;
	r.headers = h;
	r.nheaders = ZB_NELEM(h);
	sign_ok(&r);
	assert_str(out.canonical.data, "PUT\n/examplebucket/chunkObject.txt\n"
	    "\n"
	    "content-encoding:aws-chunked\n"
	    "content-length:66824\n"
	    "host:s3.amazonaws.com\n"
	    "x-amz-content-sha256:STREAMING-AWS4-HMAC-SHA256-PAYLOAD\n"
	    "x-amz-date:20130524T000000Z\n"
	    "x-amz-decoded-content-length:66560\n"
	    "x-amz-storage-class:REDUCED_REDUNDANCY\n"
	    "\n"
	    "content-encoding;content-length;host;x-amz-content-sha256;"
	    "x-amz-date;x-amz-decoded-content-length;x-amz-storage-class\n"
	    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
	assert_str(out.string_to_sign.data, STS("cee3fed04b70f867d036f722359"
	    "b0b1f2f0e5dc0efadbc082b76c4c60e316455"));
	assert_str(out.signature, "4f232c4386841ef735655705268965c44a0e4690ba"
	    "a4adea153f7db9fa80a0a9");

	data = malloc(66560);
	memset(data, 'a', 66560);
	cr_assert_eq(sigv4_chunk_sign(&out, data, 65536), 0);
	assert_str(out.signature, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e23"
	    "07b0ade35a65485a288648");
	cr_assert_eq(sigv4_chunk_sign(&out, data + 65536, 1024), 0);
	assert_str(out.signature, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b"
	    "612b7d234b86a503ef5497");
	cr_assert_eq(sigv4_chunk_sign(&out, NULL, 0), 0);
	assert_str(out.signature, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724f"
	    "ed81ceb9323e279d449df9");
	free(data);
	sigv4_out_free(&out);
	for (size_t i = 0; i < sizeof(out.signing_key); i++)
		cr_assert_eq(out.signing_key[i], 0, "signing key wiped");
}

Test(sigv4, chunk_needs_seed)
{
	sigv4_out_init(&out);
	cr_assert_eq(sigv4_chunk_sign(&out, "x", 1), -1);
	sigv4_out_free(&out);
}

Test(sigv4, uri_encode)
{
	struct zb_buf	 b;
	const char	*s = "a b+c~d/e=f&g*h%\xc3\xa9_.-Z9";

	s3_buf_init(&b, 1024);
	cr_assert_eq(sigv4_uri_encode(&b, s, strlen(s), 1), 0);
	assert_str(b.data, "a%20b%2Bc~d/e%3Df%26g%2Ah%25%C3%A9_.-Z9");
	s3_buf_reset(&b);
	cr_assert_eq(sigv4_uri_encode(&b, s, strlen(s), 0), 0);
	assert_str(b.data, "a%20b%2Bc~d%2Fe%3Df%26g%2Ah%25%C3%A9_.-Z9");
	s3_buf_reset(&b);
	cr_assert_eq(sigv4_uri_encode(&b, "\x00\x7f\xff", 3, 0), 0);
	assert_str(b.data, "%00%7F%FF");
	s3_buf_free(&b);

	/* the cap holds */
	s3_buf_init(&b, 8);
	cr_assert_eq(sigv4_uri_encode(&b, "abc", 3, 0), 0);
	cr_assert_eq(sigv4_uri_encode(&b, "   ", 3, 0), -1);
	cr_assert_eq(errno, EMSGSIZE);
	s3_buf_free(&b);
}

/* S3: encoded once, never normalised; UTF-8 bytes upper-case hex. */
Test(sigv4, path_s3)
{
	struct sigv4_req	 r;

	base(&r, "GET", "/bucket/a b/+x~//./../\xe2\x82\xac.txt");
	sign_ok(&r);
	assert_str(uri_line(), "/bucket/a%20b/%2Bx~//./../%E2%82%AC.txt");
	sigv4_out_free(&out);
}

Test(sigv4, path_modes)
{
	struct sigv4_req	 r;

	base(&r, "GET", "/a b/c");
	r.path_mode = SIGV4_PATH_TWICE;
	sign_ok(&r);
	assert_str(uri_line(), "/a%2520b/c");
	r.path = "/already%20done";
	r.path_mode = SIGV4_PATH_VERBATIM;
	sign_ok(&r);
	assert_str(uri_line(), "/already%20done");
	sigv4_out_free(&out);
}

Test(sigv4, query_encoding)
{
	struct sigv4_req	 r;
	struct sigv4_param	 q[] = {
		{ "prefix", "a b+c/d~e=f&g" },
		{ "key", "\xc3\xa9t\xc3\xa9" },
		{ "uploads", "" },
		{ "delete", NULL },
		{ "x y", "1" }
	};

	base(&r, "GET", "/");
	r.query = q;
	r.nquery = ZB_NELEM(q);
	sign_ok(&r);
	assert_str(query_line(), "delete=&key=%C3%A9t%C3%A9&"
	    "prefix=a%20b%2Bc%2Fd~e%3Df%26g&uploads=&x%20y=1");
	sigv4_out_free(&out);
}

/* Repeated names sort by value; sorting is on the encoded bytes. */
Test(sigv4, query_sorting)
{
	struct sigv4_req	 r;
	struct sigv4_param	 q[] = {
		{ "b", "2" }, { "a", "z" }, { "a", "y" }, { "a", "" },
		{ "a-b", "1" }, { "a b", "1" }, { "B", "1" }, { "a", "Y" }
	};

	base(&r, "GET", "/");
	r.query = q;
	r.nquery = ZB_NELEM(q);
	sign_ok(&r);
	/* '%' (0x25) sorts before '-' (0x2d); upper case before lower */
	assert_str(query_line(), "B=1&a=&a=Y&a=y&a=z&a%20b=1&a-b=1&b=2");
	sigv4_out_free(&out);
}

Test(sigv4, header_rules)
{
	struct sigv4_req	 r;
	struct sigv4_header	 h[] = {
		{ "X-Amz-Meta-Note", "  two   words\there \t " },
		{ "x-amz-meta-list", "1" },
		{ "Content-Type", "text/plain" },
		{ "X-AMZ-META-LIST", " 2 " },
		{ "x-amz-meta-empty", "   " }
	};

	base(&r, "PUT", "/k");
	r.host = "minio:9000";
	r.payload_hash = SIGV4_UNSIGNED_PAYLOAD;
	r.headers = h;
	r.nheaders = ZB_NELEM(h);
	sign_ok(&r);
	assert_str(out.canonical.data, "PUT\n/k\n\n"
	    "content-type:text/plain\n"
	    "host:minio:9000\n"
	    "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"
	    "x-amz-date:20130524T000000Z\n"
	    "x-amz-meta-empty:\n"
	    "x-amz-meta-list:1,2\n"
	    "x-amz-meta-note:two words here\n"
	    "\n"
	    "content-type;host;x-amz-content-sha256;x-amz-date;"
	    "x-amz-meta-empty;x-amz-meta-list;x-amz-meta-note\n"
	    "UNSIGNED-PAYLOAD");
	assert_str(out.content_sha256, "UNSIGNED-PAYLOAD");
	sigv4_out_free(&out);
}

Test(sigv4, refusals)
{
	struct sigv4_req	 r;
	struct sigv4_header	 h[1];
	struct sigv4_param	 q[SIGV4_MAX_QUERY + 1];
	const char		*bad_names[] = { "Host", "X-Amz-Date",
	    "x-amz-content-sha256", "Authorization", "Expect",
	    "Transfer-Encoding", "User-Agent", "", "a b", "a:b" };
	size_t			 i;

	base(&r, "GET", "/k");
	r.headers = h;
	r.nheaders = 1;
	for (i = 0; i < ZB_NELEM(bad_names); i++) {
		h[0].name = bad_names[i];
		h[0].value = "v";
		cr_assert_eq(sigv4_sign(&r, &out, &err), -1, "%s",
		    bad_names[i]);
		cr_assert_eq(out.signature[0], '\0');
	}
	h[0].name = "x-amz-meta-a";
	h[0].value = "line\r\nx-evil: 1";
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	h[0].value = "ok";
	sign_ok(&r);
	r.nheaders = 0;

	r.payload_hash = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA4"
	    "95991B7852B855";
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	r.payload_hash = "e3b0";
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	r.payload_hash = EMPTY;
	r.path = "k";
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	r.path = "/k";
	r.method = "get";
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	r.method = "GET";
	r.region = "us/east";
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	r.region = "us-east-1";
	r.host = "a b";
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	r.host = HOST;
	r.secret_key = "";
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	r.secret_key = SECRET;

	for (i = 0; i < ZB_NELEM(q); i++) {
		q[i].name = "a";
		q[i].value = "b";
	}
	r.query = q;
	r.nquery = ZB_NELEM(q);
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	r.nquery = SIGV4_MAX_QUERY;
	sign_ok(&r);
	sigv4_out_free(&out);
}

/* Every cap: a long key, a long query value, a long header value. */
Test(sigv4, caps)
{
	struct sigv4_req	 r;
	struct sigv4_param	 q[1];
	struct sigv4_header	 h[1];
	char			*big;

	big = malloc(SIGV4_MAX_CANONICAL + 1);
	memset(big, 'k', SIGV4_MAX_CANONICAL);
	big[0] = '/';
	big[SIGV4_MAX_CANONICAL] = '\0';
	base(&r, "GET", big);
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	cr_assert_not_null(err);

	/* one value over the per-field cap once encoded */
	big[SIGV4_MAX_FIELD / 3 + 1] = '\0';
	memset(big, ' ', SIGV4_MAX_FIELD / 3 + 1);
	r.path = "/";
	q[0].name = "v";
	q[0].value = big;
	r.query = q;
	r.nquery = 1;
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	r.nquery = 0;

	memset(big, 'h', SIGV4_MAX_FIELD + 1);
	big[SIGV4_MAX_FIELD + 1] = '\0';
	h[0].name = "x-amz-meta-big";
	h[0].value = big;
	r.headers = h;
	r.nheaders = 1;
	cr_assert_eq(sigv4_sign(&r, &out, &err), -1);
	big[SIGV4_MAX_FIELD - 1] = '\0';
	sign_ok(&r);
	free(big);
	sigv4_out_free(&out);
}

/* A second signing with the same out starts afresh. */
Test(sigv4, reuse_out)
{
	struct sigv4_req	 r;
	struct sigv4_param	 q[] = { { "lifecycle", NULL } };

	base(&r, "GET", "/test.txt");
	sign_ok(&r);
	r.path = "/";
	r.query = q;
	r.nquery = 1;
	sign_ok(&r);
	assert_str(out.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e"
	    "0f91ac7a200a0136783543");
	sigv4_out_free(&out);
}

Test(sigv4, other_region_and_time)
{
	struct sigv4_req	 r;

	base(&r, "GET", "/");
	r.region = "eu-central-1";
	r.when = 1700000000;	/* 2023-11-14T22:13:20Z */
	sign_ok(&r);
	assert_str(out.amz_date, "20231114T221320Z");
	assert_str(out.scope, "20231114/eu-central-1/s3/aws4_request");
	cr_assert_not_null(strstr(out.authorization.data,
	    "Credential=" AKID "/20231114/eu-central-1/s3/aws4_request,"));
	sigv4_out_free(&out);
}
