/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel side of the embedded TAP interface: address, netmask, queue
 * length, up. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "app.h"

/* IPv6 chatter (router solicitations, MLD) would only show up as drops. */
static void
disable_ipv6(const char *ifname)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 ifname);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, "1\n", 2) != 2)
		FMQ_DEBUG("tap", "could not disable IPv6 on %s", ifname);
	close(fd);
}

int
app_tap_host_config(const char *ifname, const struct fmq_ipv4_cidr *ip,
		    uint32_t txqueuelen, char *err, size_t errlen)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0) {
		snprintf(err, errlen, "tap %s: socket: %s", ifname, strerror(errno));
		return -errno;
	}
	disable_ipv6(ifname);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = ip->addr;
	if (ioctl(fd, SIOCSIFADDR, &ifr) < 0) {
		rc = -errno;
		snprintf(err, errlen, "tap %s: set address: %s", ifname,
			 strerror(errno));
		goto out;
	}
	sin->sin_addr.s_addr = ip->prefix ? htonl(~0u << (32 - ip->prefix)) : 0;
	if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0) {
		rc = -errno;
		snprintf(err, errlen, "tap %s: set netmask: %s", ifname,
			 strerror(errno));
		goto out;
	}
	/* The kernel queues what it sends us here while the data lcore is
	 * busy or preempted; at the default 1000 packets, 200 connections
	 * echoing through it overflowed it by a fifth of their packets. */
	ifr.ifr_qlen = (int)txqueuelen;
	if (ioctl(fd, SIOCSIFTXQLEN, &ifr) < 0) {
		rc = -errno;
		snprintf(err, errlen, "tap %s: set txqueuelen %u: %s", ifname,
			 txqueuelen, strerror(errno));
		goto out;
	}
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
		snprintf(err, errlen, "tap %s: get flags: %s", ifname,
			 strerror(errno));
		goto out;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		rc = -errno;
		snprintf(err, errlen, "tap %s: set up: %s", ifname, strerror(errno));
	}
out:
	close(fd);
	return rc;
}
