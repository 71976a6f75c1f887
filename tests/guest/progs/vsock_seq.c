/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest helper for the vsock guest test: SEQPACKET message boundaries.
 * vsock_seq CID PORT: connects an AF_VSOCK SOCK_SEQPACKET socket, sends
 * three messages of 1, 3000 and 30000 bytes (byte i of message k is
 * (k * 7 + i) & 0xff), then receives three and prints "SEQ-RECV <len>" for
 * each, checking the same pattern. Exit 0 when all went as expected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static const size_t sizes[3] = { 1, 3000, 30000 };

int main(int argc, char **argv)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK };
	struct timeval tv = { .tv_sec = 30 };
	static unsigned char buf[65536];
	int fd, bad = 0;

	if (argc != 3)
		return 2;
	sa.svm_cid = (unsigned)strtoul(argv[1], NULL, 0);
	sa.svm_port = (unsigned)strtoul(argv[2], NULL, 0);
	fd = socket(AF_VSOCK, SOCK_SEQPACKET, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("SEQ-ERROR connect: %s\n", strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < sizes[k]; i++)
			buf[i] = (unsigned char)(k * 7 + i);
		if (send(fd, buf, sizes[k], 0) != (ssize_t)sizes[k]) {
			printf("SEQ-ERROR send %d: %s\n", k, strerror(errno));
			return 1;
		}
	}
	for (int k = 0; k < 3; k++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			printf("SEQ-ERROR recv %d: %s\n", k, strerror(errno));
			return 1;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (unsigned char)(k * 7 + i))
				bad = 1;
		printf("SEQ-RECV %zd%s\n", n, bad ? " bad-bytes" : "");
	}
	close(fd);
	return bad;
}
