/*
 * Programming the fault proxy (examples/fault_proxy.rs) over its control
 * socket, for the C tests that run behind it: one command a line, answered
 * with one line. Set `proxy_control_port` before the first command.
 */
#ifndef BLOBIO_PROXY_CONTROL_H
#define BLOBIO_PROXY_CONTROL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_harness.h"

static int proxy_control_port;

/* Sends one command; its one-line answer goes to `reply` (without the
 * newline). Returns false on a transport failure. */
static inline bool proxy_control(const char *command, char *reply, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)proxy_control_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    size_t len = strlen(command);
    ok = ok && write(fd, command, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    size_t got = 0;
    while (ok && got + 1 < cap) {
        ssize_t n = read(fd, reply + got, 1);
        if (n <= 0) { ok = false; break; }
        if (reply[got] == '\n') break;
        got++;
    }
    reply[got] = '\0';
    close(fd);
    return ok;
}

/* A command that must answer "ok"; anything else is a failed check. */
static inline void program(const char *command) {
    char reply[128];
    bool ok = proxy_control(command, reply, sizeof reply);
    if (!ok || strcmp(reply, "ok") != 0) {
        fprintf(stderr, "  [%s] proxy command '%s' failed: %s\n", current_test, command, reply);
        atomic_fetch_add(&failed_checks, 1);
    }
}

#endif
