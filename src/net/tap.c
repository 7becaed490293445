// SPDX-License-Identifier: MIT
/* The tap back end (src/net/tap.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mvm/sys.h"
#include "net/tap.h"

int tap_open(struct tap *t, const char *name, char *msg, size_t len)
{
	struct ifreq ifr = { 0 };
	unsigned int features = 0;
	int hdr = TAP_VNET_HDR_LEN, err;

	t->fd = -1;
	if (!*name || strlen(name) >= IFNAMSIZ) {
		snprintf(msg, len, "'%.64s' is not an interface name (1 to %d characters)", name,
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	/* As Firecracker: the user creates the tap; attaching must not create one. */
	if (!if_nametoindex(name)) {
		snprintf(msg, len, "tap '%s' does not exist (create it: ip tuntap add %s mode tap)",
			 name, name);
		return -ENODEV;
	}
	t->fd = mvm_open("/dev/net/tun", O_RDWR | O_NONBLOCK);
	if (t->fd < 0) {
		err = -errno;
		snprintf(msg, len, "tap '%s': /dev/net/tun: %s", name, strerror(-err));
		return err;
	}
	if (mvm_ioctl(t->fd, TUNGETFEATURES, &features) < 0) {
		err = -errno;
		snprintf(msg, len, "tap '%s': TUNGETFEATURES: %s", name, strerror(-err));
		goto err_close;
	}
	if (!(features & IFF_VNET_HDR)) {
		err = -EOPNOTSUPP;
		snprintf(msg, len, "tap '%s': the kernel's tun driver lacks IFF_VNET_HDR", name);
		goto err_close;
	}
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (mvm_ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		if (err == -EBUSY)
			snprintf(msg, len, "tap '%s' is busy (another process has it open)", name);
		else if (err == -EINVAL)
			snprintf(msg, len,
				 "'%s' is not a tap device (or is set up as another kind)", name);
		else if (err == -EPERM)
			snprintf(msg, len,
				 "tap '%s': not permitted to attach (owner/CAP_NET_ADMIN)", name);
		else
			snprintf(msg, len, "tap '%s': TUNSETIFF: %s", name, strerror(-err));
		goto err_close;
	}
	if (mvm_ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		err = -errno;
		snprintf(msg, len, "tap '%s': TUNSETVNETHDRSZ: %s", name, strerror(-err));
		goto err_close;
	}
	/* No offloads until the driver negotiates them. */
	if (mvm_ioctl(t->fd, TUNSETOFFLOAD, 0) < 0) {
		err = -errno;
		snprintf(msg, len, "tap '%s': TUNSETOFFLOAD: %s", name, strerror(-err));
		goto err_close;
	}
	return 0;

err_close:
	close(t->fd);
	t->fd = -1;
	return err;
}

void tap_close(struct tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

int tap_set_offload(struct tap *t, unsigned int tun_flags)
{
	return ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tun_flags) < 0 ? -errno : 0;
}

int tap_probe(const char *name, char *msg, size_t len)
{
	struct tap t;
	int err = tap_open(&t, name, msg, len);

	tap_close(&t);
	return err;
}
