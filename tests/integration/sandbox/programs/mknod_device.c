/* Create device nodes (raw memory, the first disk) wherever the program can write. */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "attack.h"

int main(void)
{
	const char *dirs[] = {"/tmp", "/box", "/dev/shm", "/"};
	for (unsigned i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		char path[64];
		snprintf(path, sizeof path, "%s/mem", dirs[i]);
		attempt(path, mknod(path, S_IFCHR | 0666, makedev(1, 1)) != 0);
		snprintf(path, sizeof path, "%s/sda", dirs[i]);
		attempt(path, mknod(path, S_IFBLK | 0666, makedev(8, 0)) != 0);
	}
	return 0;
}
