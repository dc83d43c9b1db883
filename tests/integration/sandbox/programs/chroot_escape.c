/* The classic chroot escape: chroot into a subdirectory while keeping a working directory
 * outside it, then climb "..". Needs CAP_SYS_CHROOT; the first chroot() already counts. */
#include <sys/stat.h>
#include <unistd.h>

#include "attack.h"

int main(void)
{
	mkdir("/tmp/jail", 0755);
	attempt("chroot(\"/tmp/jail\")", chroot("/tmp/jail") != 0);
	for (int i = 0; i < 64; i++)
		chdir("..");
	attempt("chroot(\".\") after climbing", chroot(".") != 0);
	return 0;
}
