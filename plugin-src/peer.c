/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * peer.c - the sockets and the reader thread. It connects to the
 * orchestrator's control socket and to the peer (side a listens, side b
 * connects), sends the peer checkpoints, ends and stops, and runs the one
 * thread that reads both: the peer's messages into `peer`, the
 * orchestrator's commands into `cmd`, both guarded by peer.lock, with
 * peer.cond broadcast on every change.
 */
#include "lockstep.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

PeerNews peer = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};
Commands cmd;

/* The two sockets; fixed once installed. */
static struct {
    int peer_fd;
    int ctl_fd;
} sock = { .peer_fd = -1, .ctl_fd = -1 };

static int unix_socket(const char *path, struct sockaddr_un *addr)
{
    if (strlen(path) >= sizeof(addr->sun_path)) {
        fprintf(stderr, "lockstep: socket path too long: %s\n", path);
        return -1;
    }
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    strcpy(addr->sun_path, path);
    return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

/* Connect to the orchestrator's control socket; its fd, or -1. */
int ctl_connect(const char *path)
{
    struct sockaddr_un addr;
    int fd = unix_socket(path, &addr);

    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "lockstep: cannot connect to %s: %s\n", path,
                strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    sock.ctl_fd = fd;
    return fd;
}

/* Connect, retrying while the listener is not there yet. */
static int connect_to(const char *path)
{
    struct sockaddr_un addr;

    for (int tries = 0; tries < CONNECT_TRIES; tries++) {
        int fd = unix_socket(path, &addr);
        if (fd < 0) {
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            return fd;
        }
        close(fd);
        if (errno != ENOENT && errno != ECONNREFUSED) {
            break;
        }
        usleep(CONNECT_RETRY_US);
    }
    fprintf(stderr, "lockstep: cannot connect to %s: %s\n", path,
            strerror(errno));
    return -1;
}

/* Listen on path and accept the peer. */
static int accept_peer(const char *path)
{
    struct sockaddr_un addr;
    struct pollfd pfd;
    int lfd = unix_socket(path, &addr);
    int fd = -1;

    if (lfd < 0) {
        return -1;
    }
    unlink(path);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(lfd, 1) < 0) {
        fprintf(stderr, "lockstep: cannot listen on %s: %s\n", path,
                strerror(errno));
        close(lfd);
        return -1;
    }
    pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
    if (poll(&pfd, 1, ACCEPT_TIMEOUT_MS) == 1) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    }
    if (fd < 0) {
        fprintf(stderr, "lockstep: side b did not connect to %s\n", path);
    } else if (dup3(fd, lfd, O_CLOEXEC) == lfd) {
        /* In the listening socket's place, where side b's socket is: both
         * QEMUs then hold the same descriptors, and the guest's next open
         * gets the same number on both sides. */
        close(fd);
        fd = lfd;
        lfd = -1;
    }
    if (lfd >= 0) {
        close(lfd);
    }
    unlink(path);
    return fd;
}

/* Connect to the peer: listen=on waits for it, otherwise connect. */
int peer_connect(void)
{
    sock.peer_fd = cfg.listen ? accept_peer(cfg.peer_path)
                              : connect_to(cfg.peer_path);
    return sock.peer_fd;
}

void send_peer(uint32_t type, uint64_t a, uint64_t b)
{
    PeerMsg m = { .type = type, .epoch = cmp.epoch, .a = a, .b = b };

    if (send(sock.peer_fd, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m)) {
        pthread_mutex_lock(&peer.lock);
        peer.lost = true;
        pthread_mutex_unlock(&peer.lock);
    }
}

bool peer_is_lost(void)
{
    bool lost;

    pthread_mutex_lock(&peer.lock);
    lost = peer.lost;
    pthread_mutex_unlock(&peer.lock);
    return lost;
}

/* Never run on: wait for the orchestrator's "quit" (the reader exits). */
void park(void)
{
    for (;;) {
        pause();
    }
}

/* One command line from the orchestrator; with peer.lock held. */
static void command(char *line)
{
    char *args = strchr(line, ' ');

    args = args ? (*args = 0, args + 1) : line + strlen(line);
    if (strcmp(line, LS_CMD_REGS) == 0) {
        /* Sent once; regs_handshake() reads it without the lock. */
        cmd.regs_choice = g_strdup(args);
    } else if (strcmp(line, LS_CMD_RESYNC) == 0) {
        if (sscanf(args, "%" SCNu32 " %" SCNu64 " %" SCNu64 " %" SCNu64,
                   &cmd.epoch, &cmd.origin, &cmd.limit,
                   &cmd.regs_next) != 4) {
            _exit(EXIT_ORCHESTRATOR_LOST);
        }
        cmd.resync = true;
    } else {
        _exit(EXIT_QUIT);   /* LS_CMD_QUIT, or one this plugin predates */
    }
    pthread_cond_broadcast(&peer.cond);
}

/* The orchestrator wrote to the control socket: run its complete lines. */
static void read_commands(char *line, size_t *used)
{
    ssize_t r = read(sock.ctl_fd, line + *used, CMD_LINE_MAX - 1 - *used);
    char *nl;

    /* The orchestrator is gone: never run on alone. */
    if (r <= 0) {
        _exit(EXIT_ORCHESTRATOR_LOST);
    }
    *used += r;
    line[*used] = 0;
    while ((nl = strchr(line, '\n'))) {
        *nl = 0;
        pthread_mutex_lock(&peer.lock);
        command(line);
        pthread_mutex_unlock(&peer.lock);
        *used -= nl + 1 - line;
        memmove(line, nl + 1, *used + 1);
    }
    if (*used == CMD_LINE_MAX - 1) {
        _exit(EXIT_ORCHESTRATOR_LOST);
    }
}

/* The peer sent a message (or is gone): note it in `peer`. */
static void read_peer(struct pollfd *pfd)
{
    PeerMsg m;
    ssize_t r = recv(sock.peer_fd, &m, sizeof(m), MSG_WAITALL);

    pthread_mutex_lock(&peer.lock);
    if (r == sizeof(m) && m.epoch > peer.epoch) {
        /* The peer resumed after an excursion: forget its past. */
        peer.epoch = m.epoch;
        peer.ckpt_count = 0;
        peer.ended = peer.stopped = false;
    }
    if (r != sizeof(m)) {
        peer.lost = true;
        pfd->fd = -1;
    } else if (m.epoch < peer.epoch) {
        /* Sent before the peer resumed: no longer relevant. */
    } else if (m.type == MSG_CKPT) {
        peer.ckpt_hash[(m.a - 1) % CKPT_RING] = m.b;
        peer.ckpt_count = m.a;
    } else if (m.type == MSG_END || m.type == MSG_LIMIT) {
        peer.ended = true;
        peer.end_pos = m.a;
        peer.end_hash = m.b;
    } else if (m.type == MSG_STOP) {
        peer.stopped = true;
        peer.stop_good = m.a;
        peer.stop_bad = m.b;
    }
    pthread_cond_broadcast(&peer.cond);
    pthread_mutex_unlock(&peer.lock);
}

/* Reads the peer's messages and the orchestrator's commands. */
static void *reader(void *arg)
{
    struct pollfd fds[2] = {
        { .fd = sock.peer_fd, .events = POLLIN },
        { .fd = sock.ctl_fd, .events = POLLIN },
    };
    char line[CMD_LINE_MAX];
    size_t used = 0;

    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (fds[1].revents) {
            read_commands(line, &used);
        }
        if (fds[0].revents) {
            read_peer(&fds[0]);
        }
    }
    return NULL;
}

bool peer_start_reader(void)
{
    pthread_t thread;

    if (pthread_create(&thread, NULL, reader, NULL) != 0) {
        fprintf(stderr, "lockstep: cannot start reader thread\n");
        return false;
    }
    pthread_detach(thread);
    return true;
}
