/* tcp_connect ADDRESS PORT: connect to a TCP port (one the host listens on). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "attack.h"

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1)
		return 2;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("socket");
		return 2;
	}
	char what[128];
	snprintf(what, sizeof what, "connect %s:%s", argv[1], argv[2]);
	attempt(what, connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0);
	return 0;
}
