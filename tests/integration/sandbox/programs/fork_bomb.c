/* The classic fork bomb: every process forks forever. Never ends by itself; the sandbox must end
 * it (pids limit, CPU limit) and leave nothing behind. */
#include <unistd.h>

int main(void)
{
	for (;;)
		fork();
}
