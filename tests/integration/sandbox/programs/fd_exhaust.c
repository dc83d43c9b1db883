/* fd_exhaust MAX: open /dev/null until it fails. The attack succeeds (77) if more than MAX
 * descriptors could be open at once, i.e. RLIMIT_NOFILE did not hold. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack.h"

int main(int argc, char **argv)
{
	long max = argc > 1 ? atol(argv[1]) : 0;
	long highest = -1;
	for (long i = 0; i < 10 * 1000 * 1000; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			printf("highest fd %ld, then: %s\n", highest, strerror(errno));
			break;
		}
		highest = fd;
	}
	fflush(stdout);
	return max > 0 && highest + 1 > max ? ATTACK_SUCCEEDED : 0;
}
