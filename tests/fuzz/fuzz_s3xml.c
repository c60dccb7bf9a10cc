/*
 * fuzz_s3xml.c - libFuzzer target: the s3 plugin's reading of S3's XML
 * answers (plugins/s3/s3_xml.c), which come from the network.  Every
 * element found must lie inside the document; every text is unescaped.
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "s3.h"

/* s3_xml.c's buffers go through the host table (plugins/s3/s3_buf.h). */
const struct zb_host_api *s3_host;

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *tags[] = { "Contents", "Key", "Size", "Error",
	    "Upload", "UploadId", "NextContinuationToken", "Code", "Bucket" };
	struct s3_xml	 doc = { (const char *)data, size }, e, inner;
	size_t		 i, pos, ipos;
	char		*t;

	s3_host = hostapi_get();
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		pos = 0;
		while (s3_xml_next(&doc, tags[i], &pos, &e)) {
			if (e.p < doc.p || e.p + e.len > doc.p + doc.len ||
			    pos > doc.len)
				abort();
			ipos = 0;
			if (s3_xml_next(&e, "Key", &ipos, &inner) &&
			    inner.p + inner.len > e.p + e.len)
				abort();
			t = s3_xml_unescape(e.p, e.len);
			if (strlen(t) > e.len)
				abort();	/* unescaping never grows */
			free(t);
		}
		free(s3_xml_text(&doc, tags[i]));
	}
	if (size < 64) {
		char	 s[64];

		memcpy(s, data, size);
		s[size] = '\0';
		(void)s3_parse_time(s);
	}
	return 0;
}
