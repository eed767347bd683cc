/* SPDX-License-Identifier: MIT */
/*
 * A program written the way bp-socket's README and example programs write
 * one (docs/bp-socket-compat.md): AF_BP datagram sockets, bind to an ipn
 * address, sendto with bp-socket's flags, SO_RCVTIMEO of 3 s, and the
 * two-step receive (MSG_PEEK | MSG_TRUNC for the size, then the bundle).
 * Built against include/bp/bp.h with only the socket calls renamed to bp_*.
 * Exits 0 when the receiver got the sender's message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bp/bp.h"

#define NODE_ID 1
#define SENDER_SERVICE 64
#define RECEIVER_SERVICE 65

static int receiver(void)
{
	struct sockaddr_bp addr, src_addr;
	struct timeval tv = { .tv_sec = 3, .tv_usec = 0 };
	struct iovec iov;
	struct msghdr msg;
	char *buffer;
	ssize_t need, received;
	int fd = bp_socket(AF_BP, SOCK_DGRAM, 1);

	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (bp_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("setsockopt");
		return 1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.bp_family = AF_BP;
	addr.bp_scheme = BP_SCHEME_IPN;
	addr.bp_addr.ipn.node_id = NODE_ID;
	addr.bp_addr.ipn.service_id = RECEIVER_SERVICE;
	if (bp_bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("bind");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	/* Step one: the size, without consuming the bundle. */
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = NULL;
	iov.iov_len = 0;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	need = bp_recvmsg(fd, &msg, MSG_PEEK | MSG_TRUNC);
	if (need < 0) {
		perror("recvmsg (peek)");
		return 1;
	}
	/* Step two: the bundle itself, with its source. */
	buffer = malloc((size_t)need + 1);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buffer;
	iov.iov_len = (size_t)need;
	msg.msg_name = &src_addr;
	msg.msg_namelen = sizeof(src_addr);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	received = bp_recvmsg(fd, &msg, 0);
	if (received < 0) {
		perror("recvmsg");
		return 1;
	}
	buffer[received] = '\0';
	printf("received %zd bytes from ipn:%u.%u: %s\n", received, src_addr.bp_addr.ipn.node_id,
	       src_addr.bp_addr.ipn.service_id, buffer);
	bp_close(fd);
	return strcmp(buffer, "Hello!") == 0 && src_addr.bp_addr.ipn.service_id == SENDER_SERVICE ?
		       0 :
		       1;
}

static int sender(void)
{
	struct sockaddr_bp src_addr, dest_addr;
	const char *message = "Hello!";
	int flags = MSG_ACK_REQUESTED | MSG_NO_CUSTODY_REQUIRED;
	int fd = bp_socket(AF_BP, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("socket");
		return 1;
	}
	src_addr.bp_family = AF_BP;
	src_addr.bp_scheme = BP_SCHEME_IPN;
	src_addr.bp_addr.ipn.node_id = NODE_ID;
	src_addr.bp_addr.ipn.service_id = SENDER_SERVICE;
	if (bp_bind(fd, (struct sockaddr *)&src_addr, sizeof(src_addr)) < 0) {
		perror("bind");
		return 1;
	}
	dest_addr.bp_family = AF_BP;
	dest_addr.bp_scheme = BP_SCHEME_IPN;
	dest_addr.bp_addr.ipn.node_id = NODE_ID;
	dest_addr.bp_addr.ipn.service_id = RECEIVER_SERVICE;
	if (bp_sendto(fd, message, strlen(message) + 1, flags, (struct sockaddr *)&dest_addr,
		      sizeof(dest_addr)) < 0) {
		perror("sendto");
		return 1;
	}
	bp_close(fd);
	return 0;
}

int main(void)
{
	int pipefd[2], status;
	char ready[8];
	pid_t child;

	/* The receiver binds first, then tells the sender to go. */
	if (pipe(pipefd) < 0)
		return 1;
	child = fork();
	if (child == 0) {
		close(pipefd[0]);
		dup2(pipefd[1], STDOUT_FILENO);
		_exit(receiver());
	}
	close(pipefd[1]); /* so that the read below sees the receiver's end */
	if (read(pipefd[0], ready, 6) != 6 || sender() != 0)
		return 1;
	while (read(pipefd[0], ready, sizeof(ready)) > 0)
		; /* the receiver's report, until it exits */
	waitpid(child, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
