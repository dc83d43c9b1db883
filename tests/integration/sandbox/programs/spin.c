/* spin THREADS MS: THREADS threads each burn MS ms of their own CPU time, then exit 0.
 * MS = 0: spin forever. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long ms;

static long thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *burn(void *arg)
{
	(void)arg;
	while (ms == 0 || thread_cpu_ms() < ms)
		;
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	ms = argc > 2 ? atol(argv[2]) : 0;
	pthread_t threads[256];
	if (n < 1 || n > 256)
		return 2;
	for (int i = 1; i < n; i++)
		if (pthread_create(&threads[i], NULL, burn, NULL) != 0)
			return 1;
	burn(NULL);
	for (int i = 1; i < n; i++)
		pthread_join(threads[i], NULL);
	printf("spun %d x %ld ms\n", n, ms);
	return 0;
}
