// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-nl - a raw generic netlink client of the TCMU family "TCM-USER".
 *
 * It speaks the protocol tcmu-runner speaks (no libnl): it joins the
 * family's "config" multicast group, prints the device events the kernel
 * sends (ADDED, REMOVED, RECONFIG) and answers each with a *_DONE reply,
 * or on request a wrong one, to test how the driver copes with a daemon
 * that replies late, wrongly or never.
 *
 * Usage: tcmu-nl [options]
 *   --features N      first send SET_FEATURES with SUPP_KERN_CMD_REPLY = N
 *                     (default: not sent; the kernel then expects no reply)
 *   --reply MODE[,MODE...]  the Nth event gets the Nth reply MODE, the
 *                     last one repeats (ok).  MODEs:
 *       ok            the matching *_DONE, status 0, the event's dev_id
 *       status:N      the matching *_DONE with status N
 *       wrong-cmd     ADDED_DEVICE_DONE (REMOVED_DEVICE_DONE for an ADDED)
 *       wrong-dev     the matching *_DONE for dev_id + 1000
 *       no-status     the matching *_DONE without TCMU_ATTR_CMD_STATUS
 *       no-devid      the matching *_DONE without TCMU_ATTR_DEVICE_ID
 *       none          no reply
 *       short-status  TCMU_ATTR_CMD_STATUS with a 1-byte payload
 *       short-devid   TCMU_ATTR_DEVICE_ID with a 2-byte payload
 *       truncated     the message ends 4 bytes into TCMU_ATTR_DEVICE_ID
 *       garbage       64 pseudo-random bytes as the attributes
 *       twice         the matching *_DONE, sent twice
 *     and any MODE followed by "+ok" is followed by the good reply.
 *   --count N         exit after N events
 *   --timeout S       exit 3 when no event came for S seconds
 *   --unsolicited     first send each *_DONE, status 0, for dev_id 0, 1
 *                     and 0xffffffff, when no event asked for one:
 *                     "unsolicited CMD dev_id=N -> err=E" each
 *
 * Output, one line each, flushed: "ready" once the group is joined (and
 * the features sent: "features N -> err=E" before it), then for each event
 *   event added dev_id=3 minor=0 device=tcm-user/1/x/ramd/x
 * (reconfig adds dev_cfg=, dev_size= or write_cache=; a missing attribute
 * shows as "?", string bytes outside 0x21..0x7e and '\' as \xNN) and
 *   reply MODE CMD dev_id=N -> err=E
 * with the ack's error E (0, or e.g. -22), dev_id=none if not sent and
 * "-> not sent" for none.  Replies go on a second socket, so that acks and
 * events do not mix.
 *
 * Exit status: 0 after --count events or on SIGTERM/SIGINT, 1 on setup
 * errors, 2 on usage errors, 3 on --timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
/* linux/uio.h (pulled in by the ABI header) clashes with glibc's iovec */
#define iovec linux_iovec
#include <linux/target_core_user.h>
#undef iovec

#define FAMILY	"TCM-USER"
#define GROUP	"config"
#define VERSION	2

enum kind { K_OK, K_STATUS, K_WRONG_CMD, K_WRONG_DEV, K_NO_STATUS,
	    K_NO_DEVID, K_NONE, K_SHORT_STATUS, K_SHORT_DEVID, K_TRUNCATED,
	    K_GARBAGE, K_TWICE, K_NR };

static const char *const kind_names[] = {
	[K_OK] = "ok", [K_STATUS] = "status", [K_WRONG_CMD] = "wrong-cmd",
	[K_WRONG_DEV] = "wrong-dev", [K_NO_STATUS] = "no-status",
	[K_NO_DEVID] = "no-devid", [K_NONE] = "none",
	[K_SHORT_STATUS] = "short-status", [K_SHORT_DEVID] = "short-devid",
	[K_TRUNCATED] = "truncated", [K_GARBAGE] = "garbage",
	[K_TWICE] = "twice",
};

static const char *const cmd_names[] = {
	[TCMU_CMD_ADDED_DEVICE] = "added",
	[TCMU_CMD_REMOVED_DEVICE] = "removed",
	[TCMU_CMD_RECONFIG_DEVICE] = "reconfig",
	[TCMU_CMD_ADDED_DEVICE_DONE] = "ADDED_DEVICE_DONE",
	[TCMU_CMD_REMOVED_DEVICE_DONE] = "REMOVED_DEVICE_DONE",
	[TCMU_CMD_RECONFIG_DEVICE_DONE] = "RECONFIG_DEVICE_DONE",
	[TCMU_CMD_SET_FEATURES] = "SET_FEATURES",
};

struct mode {
	enum kind kind;
	int32_t status;
	int then_ok;		/* "+ok": the good reply after it */
	const char *name;
};

struct msg {			/* a request we build */
	struct nlmsghdr n;
	struct genlmsghdr g;
	char attrs[256];
};

static uint8_t buf[65536] __attribute__((aligned(8)));
static uint32_t seq;

static void __attribute__((format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("tcmu-nl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

#define for_each_attr(a, start, len, rem)				\
	for (a = (struct nlattr *)(start), rem = (int)(len);		\
	     rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&		\
	     a->nla_len <= rem;						\
	     rem -= NLA_ALIGN(a->nla_len),				\
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))

static void parse_attrs(struct nlattr **tb, int max, void *start, int len)
{
	struct nlattr *a;
	int rem;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	for_each_attr(a, start, len, rem)
		if ((a->nla_type & NLA_TYPE_MASK) <= max)
			tb[a->nla_type & NLA_TYPE_MASK] = a;
}

static void *attr_data(const struct nlattr *a)
{
	return (char *)a + NLA_HDRLEN;
}

/* Copy a fixed-size payload; -1 if @a is missing or too short. */
static int attr_get(const struct nlattr *a, void *v, size_t size)
{
	if (!a || a->nla_len < NLA_HDRLEN + size)
		return -1;
	memcpy(v, attr_data(a), size);
	return 0;
}

/* The string payload of @a, or NULL if missing or not NUL-terminated. */
static const char *attr_str(const struct nlattr *a)
{
	if (!a || !memchr(attr_data(a), 0, a->nla_len - NLA_HDRLEN))
		return NULL;
	return attr_data(a);
}

static void msg_init(struct msg *m, uint16_t type, uint8_t cmd, uint8_t ver)
{
	memset(m, 0, sizeof(*m));
	m->n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->n.nlmsg_type = type;
	m->n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	m->n.nlmsg_seq = ++seq;
	m->g.cmd = cmd;
	m->g.version = ver;
}

static void msg_put(struct msg *m, uint16_t type, const void *data,
		    uint16_t len)
{
	struct nlattr *a = (void *)((char *)m + NLMSG_ALIGN(m->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy(attr_data(a), data, len);
	m->n.nlmsg_len = NLMSG_ALIGN(m->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 10 };
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("netlink socket: %s", strerror(errno));
	return fd;
}

/* Is there a whole message at @n, in the @len bytes left? */
static int msg_ok(const struct nlmsghdr *n, int len)
{
	return len >= (int)sizeof(*n) && n->nlmsg_len >= sizeof(*n) &&
	       n->nlmsg_len <= (unsigned int)len;
}

#define for_each_msg(n, len)						\
	for (n = (struct nlmsghdr *)buf; msg_ok(n, len);		\
	     len -= NLMSG_ALIGN(n->nlmsg_len),				\
	     n = (struct nlmsghdr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len)))

/* One datagram into buf: its length (0 if not from the kernel), -errno. */
static int nl_recv(int fd)
{
	struct sockaddr_nl sa;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa),
			     .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t len;

	len = recvmsg(fd, &mh, 0);
	if (len < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (sa.nl_pid != 0)	/* only the kernel talks to us */
		return 0;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	return len;
}

/*
 * Send @m to the kernel and read up to its ack: returns the ack's error
 * (0 or -errno).  Answers with the same sequence number go to @cb.
 */
static int nl_request(int fd, struct msg *m,
		      void (*cb)(struct nlmsghdr *n, void *arg), void *arg)
{
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };
	struct nlmsghdr *n;
	int len;

	if (sendto(fd, m, m->n.nlmsg_len, 0, (struct sockaddr *)&k,
		   sizeof(k)) < 0)
		return -errno;
	for (;;) {
		len = nl_recv(fd);
		if (len < 0)
			return len;
		for_each_msg(n, len) {
			if (n->nlmsg_seq != m->n.nlmsg_seq)
				continue;
			if (n->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(n);

				if (n->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
					return -EBADMSG;
				return e->error;
			}
			if (n->nlmsg_type != NLMSG_DONE && cb)
				cb(n, arg);
		}
	}
}

struct family {
	int id, group;
};

static void family_cb(struct nlmsghdr *n, void *arg)
{
	struct nlattr *tb[CTRL_ATTR_MAX + 1], *gt[CTRL_ATTR_MCAST_GRP_MAX + 1];
	struct nlattr *g;
	struct family *f = arg;
	uint16_t id;
	uint32_t grp;
	const char *name;
	int rem;

	if (n->nlmsg_type != GENL_ID_CTRL ||
	    n->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return;
	parse_attrs(tb, CTRL_ATTR_MAX, (char *)NLMSG_DATA(n) + GENL_HDRLEN,
		    n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN));
	if (!attr_get(tb[CTRL_ATTR_FAMILY_ID], &id, sizeof(id)))
		f->id = id;
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return;
	for_each_attr(g, attr_data(tb[CTRL_ATTR_MCAST_GROUPS]),
		      tb[CTRL_ATTR_MCAST_GROUPS]->nla_len - NLA_HDRLEN, rem) {
		parse_attrs(gt, CTRL_ATTR_MCAST_GRP_MAX, attr_data(g),
			    g->nla_len - NLA_HDRLEN);
		name = attr_str(gt[CTRL_ATTR_MCAST_GRP_NAME]);
		if (name && !strcmp(name, GROUP) &&
		    !attr_get(gt[CTRL_ATTR_MCAST_GRP_ID], &grp, sizeof(grp)))
			f->group = grp;
	}
}

static void resolve(int fd, struct family *f)
{
	struct msg m;
	int err;

	msg_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	msg_put(&m, CTRL_ATTR_FAMILY_NAME, FAMILY, sizeof(FAMILY));
	f->id = f->group = -1;
	err = nl_request(fd, &m, family_cb, f);
	if (err == -ENOENT || (!err && f->id < 0))
		die(FAMILY " family not found: is target_core_user loaded?");
	if (err)
		die("resolving " FAMILY ": %s", strerror(-err));
	if (f->group < 0)
		die(FAMILY " has no \"" GROUP "\" multicast group");
}

static void print_u32(const char *key, const struct nlattr *a)
{
	uint32_t v;

	if (attr_get(a, &v, sizeof(v)))
		printf(" %s=?", key);
	else
		printf(" %s=%u", key, v);
}

static void print_str(const char *key, const struct nlattr *a)
{
	const unsigned char *s = (const unsigned char *)attr_str(a);

	printf(" %s=", key);
	if (!s) {
		putchar('?');
		return;
	}
	for (; *s; s++)
		if (*s > 0x20 && *s < 0x7f && *s != '\\')
			putchar(*s);
		else
			printf("\\x%02x", *s);
}

/* Send one reply of kind @kind; print " -> err=E". */
static void send_reply(int fd, int family, int cmd, enum kind kind,
		       int32_t status, const uint32_t *dev_id, uint32_t id)
{
	static uint32_t rnd = 12345;
	struct msg m;
	uint8_t junk[64];
	unsigned int i;

	msg_init(&m, family, cmd, VERSION);
	switch (kind) {
	case K_SHORT_STATUS:
		msg_put(&m, TCMU_ATTR_CMD_STATUS, &status, 1);
		break;
	case K_GARBAGE:
		for (i = 0; i < sizeof(junk); i++) {
			rnd = rnd * 1103515245 + 12345;
			junk[i] = rnd >> 16;
		}
		memcpy((char *)&m + m.n.nlmsg_len, junk, sizeof(junk));
		m.n.nlmsg_len += sizeof(junk);
		break;
	case K_NO_STATUS:
		break;
	default:
		msg_put(&m, TCMU_ATTR_CMD_STATUS, &status, sizeof(status));
	}
	if (dev_id && kind == K_SHORT_DEVID)
		msg_put(&m, TCMU_ATTR_DEVICE_ID, &id, 2);
	else if (dev_id && kind != K_NO_DEVID && kind != K_GARBAGE)
		msg_put(&m, TCMU_ATTR_DEVICE_ID, &id, sizeof(id));
	if (kind == K_TRUNCATED)
		m.n.nlmsg_len -= 4;
	printf(" -> err=%d", nl_request(fd, &m, NULL, NULL));
}

static void reply(int fd, int family, int ev, const uint32_t *dev_id,
		  const struct mode *md)
{
	int cmd = ev - TCMU_CMD_ADDED_DEVICE + TCMU_CMD_ADDED_DEVICE_DONE;
	int32_t status = md->kind == K_STATUS ? md->status : 0;
	uint32_t id = dev_id ? *dev_id : 0;
	int good = cmd;

	if (md->kind == K_WRONG_CMD)
		cmd = ev == TCMU_CMD_ADDED_DEVICE ?
		      TCMU_CMD_REMOVED_DEVICE_DONE : TCMU_CMD_ADDED_DEVICE_DONE;
	if (md->kind == K_WRONG_DEV)
		id += 1000;
	printf("reply %s %s dev_id=", md->name, cmd_names[cmd]);
	if (dev_id && md->kind != K_NO_DEVID)
		printf("%u", id);
	else
		printf("none");
	if (md->kind == K_NONE) {
		printf(" -> not sent");
	} else {
		send_reply(fd, family, cmd, md->kind, status, dev_id, id);
		if (md->kind == K_TWICE)
			send_reply(fd, family, cmd, K_OK, 0, dev_id, id);
	}
	if (md->then_ok && dev_id)
		send_reply(fd, family, good, K_OK, 0, dev_id, *dev_id);
	printf("\n");
}

/* --unsolicited: replies nobody waits for. */
static void unsolicited(int fd, int family)
{
	static const uint32_t ids[] = { 0, 1, 0xffffffff };
	unsigned int i;
	int cmd;

	for (cmd = TCMU_CMD_ADDED_DEVICE_DONE;
	     cmd <= TCMU_CMD_RECONFIG_DEVICE_DONE; cmd++)
		for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
			printf("unsolicited %s dev_id=%u", cmd_names[cmd],
			       ids[i]);
			send_reply(fd, family, cmd, K_OK, 0, &ids[i], ids[i]);
			printf("\n");
		}
}

/* Print one event and answer it; 1 if @n was an event, else 0. */
static int event(struct nlmsghdr *n, int family, int reqfd,
		 const struct mode *md)
{
	struct genlmsghdr *g = NLMSG_DATA(n);
	struct nlattr *tb[TCMU_ATTR_MAX + 1];
	uint32_t dev_id;
	uint64_t size;
	uint8_t wc;
	int have_id;

	if (n->nlmsg_type != family ||
	    n->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return 0;
	if (g->cmd < TCMU_CMD_ADDED_DEVICE ||
	    g->cmd > TCMU_CMD_RECONFIG_DEVICE) {
		fprintf(stderr, "tcmu-nl: ignoring command %u\n", g->cmd);
		return 0;
	}
	parse_attrs(tb, TCMU_ATTR_MAX, (char *)g + GENL_HDRLEN,
		    n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN));
	have_id = !attr_get(tb[TCMU_ATTR_DEVICE_ID], &dev_id, sizeof(dev_id));
	printf("event %s", cmd_names[g->cmd]);
	print_u32("dev_id", tb[TCMU_ATTR_DEVICE_ID]);
	print_u32("minor", tb[TCMU_ATTR_MINOR]);
	print_str("device", tb[TCMU_ATTR_DEVICE]);
	if (tb[TCMU_ATTR_DEV_CFG])
		print_str("dev_cfg", tb[TCMU_ATTR_DEV_CFG]);
	if (!attr_get(tb[TCMU_ATTR_DEV_SIZE], &size, sizeof(size)))
		printf(" dev_size=%llu", (unsigned long long)size);
	if (!attr_get(tb[TCMU_ATTR_WRITECACHE], &wc, sizeof(wc)))
		printf(" write_cache=%u", wc);
	printf("\n");
	fflush(stdout);
	reply(reqfd, family, g->cmd, have_id ? &dev_id : NULL, md);
	fflush(stdout);
	return 1;
}

/* A whole number in [min, max] or exit 2. */
static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "tcmu-nl: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* Parse MODE @s into @md or exit 2. */
static void parse_mode(char *s, struct mode *md)
{
	char *plus = strstr(s, "+ok");

	md->name = s;
	md->status = 0;
	md->then_ok = plus && !plus[3];
	if (md->then_ok)
		md->name = strndup(s, plus - s);
	if (!md->name)
		die("out of memory");
	s = (char *)md->name;
	for (md->kind = K_OK; md->kind < K_NR; md->kind++)
		if (md->kind != K_STATUS && !strcmp(s, kind_names[md->kind]))
			return;
	if (strncmp(s, "status:", 7)) {
		fprintf(stderr, "tcmu-nl: bad reply mode '%s'\n", s);
		exit(2);
	}
	md->kind = K_STATUS;
	md->status = number(s + 7, INT32_MIN, INT32_MAX);
}

static void usage(FILE *f, int rc)
{
	fprintf(f,
"usage: tcmu-nl [--features N] [--reply MODE[,MODE...]] [--count N]\n"
"               [--timeout S] [--unsolicited]\n"
"  MODE: ok status:N wrong-cmd wrong-dev no-status no-devid none\n"
"        short-status short-devid truncated garbage twice, each +ok\n"
"  (the Nth event gets the Nth MODE, the last one repeats; default ok;\n"
"  see the comment at the top of tcmu-nl.c)\n");
	exit(rc);
}

static struct mode *modes, ok = { K_OK, 0, 0, "ok" };
static long nmodes, features = -1, count, timeout, send_unsolicited;

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "features", required_argument, NULL, 'f' },
		{ "reply", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "unsolicited", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	char *s, *save;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': features = number(optarg, 0, 255); break;
		case 'c': count = number(optarg, 0, LONG_MAX); break;
		case 't': timeout = number(optarg, 0, INT_MAX); break;
		case 'u': send_unsolicited = 1; break;
		case 'r':
			for (s = strtok_r(optarg, ",", &save); s;
			     s = strtok_r(NULL, ",", &save)) {
				modes = realloc(modes, ++nmodes * sizeof(*modes));
				if (!modes)
					die("out of memory");
				parse_mode(s, &modes[nmodes - 1]);
			}
			break;
		case 'h': usage(stdout, 0); break;
		default: usage(stderr, 2);
		}
	}
	if (optind < argc)
		usage(stderr, 2);
	if (!nmodes) {
		modes = &ok;
		nmodes = 1;
	}
}

static void set_features(int fd, int family, uint8_t feat)
{
	struct msg m;
	int err;

	msg_init(&m, family, TCMU_CMD_SET_FEATURES, VERSION);
	msg_put(&m, TCMU_ATTR_SUPP_KERN_CMD_REPLY, &feat, sizeof(feat));
	err = nl_request(fd, &m, NULL, NULL);
	printf("features %u -> err=%d\n", feat, err);
	if (err)
		die("SET_FEATURES: %s", strerror(-err));
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Handle events until --count, a signal (0) or --timeout (3). */
static int serve(int evfd, int reqfd, int family, const sigset_t *mask)
{
	struct pollfd pfd = { .fd = evfd, .events = POLLIN };
	struct timespec ts = { .tv_sec = timeout };
	struct nlmsghdr *n;
	long events = 0;
	int len;

	while (!stop && (!count || events < count)) {
		len = ppoll(&pfd, 1, timeout ? &ts : NULL, mask);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			die("poll: %s", strerror(errno));
		if (len == 0) {
			fprintf(stderr, "tcmu-nl: no event for %ld seconds\n",
				timeout);
			return 3;
		}
		len = nl_recv(evfd);
		if (len == -ENOBUFS) {
			fprintf(stderr, "tcmu-nl: event socket overrun, events lost\n");
			continue;
		}
		if (len < 0)
			die("receiving events: %s", strerror(-len));
		for_each_msg(n, len)
			if (!count || events < count)
				events += event(n, family, reqfd,
						&modes[events < nmodes ?
						       events : nmodes - 1]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, orig;
	struct family fam;
	int evfd, reqfd;

	parse_args(argc, argv);

	/* SIGTERM/SIGINT are only taken while waiting for an event. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	evfd = nl_open();
	reqfd = nl_open();
	resolve(reqfd, &fam);
	if (setsockopt(evfd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &fam.group,
		       sizeof(fam.group)) < 0)
		die("joining group " GROUP ": %s", strerror(errno));
	if (send_unsolicited)
		unsolicited(reqfd, fam.id);
	if (features >= 0)
		set_features(reqfd, fam.id, features);
	printf("ready\n");
	fflush(stdout);
	return serve(evfd, reqfd, fam.id, &orig);
}
