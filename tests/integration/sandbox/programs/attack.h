/* Shared by the hostile programs: exit 77 when the attack worked (bubblewrap/nsjail convention). */
#ifndef JAULA_ATTACK_H
#define JAULA_ATTACK_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTACK_SUCCEEDED 77

/* Report one attempt: on success print it and exit 77, on failure print the errno and go on. */
static inline void attempt(const char *what, int failed)
{
	if (!failed) {
		printf("SUCCEEDED: %s\n", what);
		fflush(stdout);
		exit(ATTACK_SUCCEEDED);
	}
	printf("blocked: %s: %s\n", what, strerror(errno));
	fflush(stdout);
}
#endif
