/*
 * replay.c - runs a fuzz target over files without libFuzzer, so that
 * `make check' exercises every seed corpus with the normal (or the
 * sanitizer) build.
 */
#include "zb-build.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
main(int argc, char **argv)
{
	FILE	*f;
	char	*buf;
	long	 n;
	int	 i;

	for (i = 1; i < argc; i++) {
		f = fopen(argv[i], "rb");
		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		buf = malloc(n > 0 ? n : 1);
		if (buf == NULL || fread(buf, 1, n, f) != (size_t)n) {
			fprintf(stderr, "%s: read failed\n", argv[i]);
			return 1;
		}
		fclose(f);
		LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
		free(buf);
	}
	printf("%d inputs replayed\n", argc - 1);
	return 0;
}
