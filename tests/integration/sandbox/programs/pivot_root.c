/* pivot_root: swap the container's root for another directory. */
#include <sys/syscall.h>
#include <unistd.h>

#include "attack.h"

int main(void)
{
	attempt("pivot_root(\".\", \".\") in /", chdir("/") != 0 || syscall(SYS_pivot_root, ".", ".") != 0);
	attempt("pivot_root(\"/tmp\", \"/tmp\")", syscall(SYS_pivot_root, "/tmp", "/tmp") != 0);
	return 0;
}
