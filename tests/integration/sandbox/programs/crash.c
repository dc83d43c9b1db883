/* crash segv|abort|fpe: die of a real fault (not a signal sent by kill). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	volatile int zero = 0, one = 1, result = 0;
	if (argc != 2)
		return 2;
	if (strcmp(argv[1], "segv") == 0)
		*(volatile int *)(long)zero = 1;
	else if (strcmp(argv[1], "abort") == 0)
		abort();
	else if (strcmp(argv[1], "fpe") == 0)
		result = one / zero;
	return 2 + result;
}
