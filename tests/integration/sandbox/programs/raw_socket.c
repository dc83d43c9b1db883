/* Open raw sockets: IP (ICMP) and packet level. Both need CAP_NET_RAW. */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "attack.h"

int main(void)
{
	attempt("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) < 0);
	attempt("socket(AF_INET, SOCK_RAW, IPPROTO_RAW)", socket(AF_INET, SOCK_RAW, IPPROTO_RAW) < 0);
	attempt("socket(AF_PACKET, SOCK_RAW)", socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) < 0);
	return 0;
}
