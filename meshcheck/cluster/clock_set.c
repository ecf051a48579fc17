/* Sets a shifted clock's control file (clock_shift.c's struct control) on the machine the node runs
 * on: `clock_set FILE OFFSET_NS RATE_PPB` anchors the node's wall clock OFFSET_NS nanoseconds from
 * this machine's real clock, now, running at RATE_PPB / 10^9. A node on another host
 * (meshcheck/systems/remote_clock.py) reads its own host's real clock, so the anchor is taken
 * there, not on the controller, whose clock may differ. The words are written as
 * clock_faults.py's ShiftedClock writes them: the count made odd, the anchors, the count even. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct control {
    volatile int64_t seq;
    volatile int64_t anchor_real, anchor_fake, rate_ppb;
};

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: clock_set FILE OFFSET_NS RATE_PPB\n");
        return 2;
    }
    int fd = open(argv[1], O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    struct control *c =
        mmap(NULL, sizeof(struct control), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (c == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    int64_t offset = strtoll(argv[2], NULL, 10), rate = strtoll(argv[3], NULL, 10);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t real = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    int64_t seq = c->seq | 1;  /* odd while the words change */
    c->seq = seq;
    __sync_synchronize();
    c->anchor_real = real;
    c->anchor_fake = real + offset;
    c->rate_ppb = rate;
    __sync_synchronize();
    c->seq = seq + 1;
    munmap(c, sizeof(struct control));
    return 0;
}
