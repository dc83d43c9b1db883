/* thread_bomb MAX: create sleeping threads until it fails. The attack succeeds (77) if more than
 * MAX threads could be created, i.e. the pids limit did not hold. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attack.h"

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	long max = argc > 1 ? atol(argv[1]) : 0;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	long created = 0;
	for (;;) {
		pthread_t t;
		int err = pthread_create(&t, &attr, sleeper, NULL);
		if (err != 0) {
			printf("created %ld threads, then: %s\n", created, strerror(err));
			break;
		}
		created++;
		if (created > 100000)
			break;
	}
	fflush(stdout);
	return max > 0 && created > max ? ATTACK_SUCCEEDED : 0;
}
