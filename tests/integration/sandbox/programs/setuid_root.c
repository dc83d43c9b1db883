/* Installed setuid root in an image layer: does it run with, or gain, uid 0? */
#define _GNU_SOURCE
#include <unistd.h>

#include "attack.h"

int main(void)
{
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	printf("uids %u %u %u\n", r, e, s);
	errno = EPERM;
	attempt("effective uid 0 at exec", e != 0 && s != 0);
	attempt("setuid(0)", setuid(0) != 0);
	attempt("setresuid(0, 0, 0)", setresuid(0, 0, 0) != 0);
	return 0;
}
