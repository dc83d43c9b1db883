/* Create a nested user namespace (where the program would be root, with every capability over
 * its new namespaces: the usual way to reach kernel code that needs CAP_SYS_ADMIN). */
#define _GNU_SOURCE
#include <sched.h>

#include "attack.h"

int main(void)
{
	attempt("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER) != 0);
	attempt("unshare(CLONE_NEWUSER | CLONE_NEWNS)", unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0);
	return 0;
}
