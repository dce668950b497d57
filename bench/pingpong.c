// SPDX-License-Identifier: MIT
// The floor under a round trip: an 8-byte ping-pong over an AF_UNIX stream
// socketpair between two processes, blocking read(2)/write(2), no event loop.
//
//   pingpong CORE_A CORE_B SECONDS
//
// The parent runs on CORE_A, its forked child (the echo) on CORE_B. After a
// warm-up of 1000 round trips, it measures for at least SECONDS and prints one
// JSON line: {"op":"roundtrip","size":8,"us":MEAN_US_PER_ROUND_TRIP,"n":COUNT}.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pin(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    perror("sched_setaffinity");
    exit(1);
  }
}

// Moves exactly 8 bytes; 0 on success, -1 at EOF or on an error.
static int xfer(int fd, char *buf, int writing) {
  size_t done = 0;
  while (done < 8) {
    ssize_t n = writing ? write(fd, buf + done, 8 - done) : read(fd, buf + done, 8 - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: pingpong CORE_A CORE_B SECONDS\n");
    return 2;
  }
  int a = atoi(argv[1]), b = atoi(argv[2]);
  double seconds = atof(argv[3]);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    perror("socketpair");
    return 1;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("fork");
    return 1;
  }
  char buf[8] = {7, 7, 7, 7, 7, 7, 7, 7};
  if (child == 0) {
    close(sv[0]);
    pin(b);
    while (xfer(sv[1], buf, 0) == 0 && xfer(sv[1], buf, 1) == 0) {
    }
    _exit(0);
  }
  close(sv[1]);
  pin(a);
  for (int i = 0; i < 1000; i++) {
    if (xfer(sv[0], buf, 1) || xfer(sv[0], buf, 0)) {
      fprintf(stderr, "pingpong: the echo went away\n");
      return 1;
    }
  }
  long n = 0;
  double t0 = now(), t = t0;
  while (t - t0 < seconds || n < 100) {
    for (int i = 0; i < 100; i++) {
      if (xfer(sv[0], buf, 1) || xfer(sv[0], buf, 0)) {
        fprintf(stderr, "pingpong: the echo went away\n");
        return 1;
      }
    }
    n += 100;
    t = now();
  }
  printf("{\"op\":\"roundtrip\",\"size\":8,\"us\":%.6g,\"n\":%ld}\n", (t - t0) / (double)n * 1e6, n);
  close(sv[0]);
  waitpid(child, NULL, 0);
  return 0;
}
