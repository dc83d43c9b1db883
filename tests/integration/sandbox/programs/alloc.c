/* alloc MIB: allocate and touch MIB MiB, print "allocated MIB", exit 0.
 * alloc 0:   the memory bomb: allocate and touch 1 MiB after another, forever. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)

int main(int argc, char **argv)
{
	long want = argc > 1 ? atol(argv[1]) : 0;
	long got = 0;
	while (want == 0 || got < want) {
		char *p = malloc(MIB);
		if (p == NULL) {
			printf("malloc failed after %ld MiB\n", got);
			return 1;
		}
		memset(p, 1, MIB);
		got++;
	}
	printf("allocated %ld\n", got);
	return 0;
}
