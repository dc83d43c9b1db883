/* Attach to the container's PID 1 (root, outside the program's user namespace) with ptrace. */
#include <sys/ptrace.h>

#include "attack.h"

int main(void)
{
	attempt("PTRACE_ATTACH 1", ptrace(PTRACE_ATTACH, 1, 0, 0) != 0);
	attempt("PTRACE_SEIZE 1", ptrace(PTRACE_SEIZE, 1, 0, 0) != 0);
	attempt("PTRACE_ATTACH 2", ptrace(PTRACE_ATTACH, 2, 0, 0) != 0);
	return 0;
}
