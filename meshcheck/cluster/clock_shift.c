/* A node's clock, shifted while it runs: preloaded into a process (LD_PRELOAD), this library
 * rewrites the entry points of the process's own copy of the vDSO (vdso(7)), through which the C
 * library and Go's runtime alike read the clock, so that they answer from a control file the
 * harness rewrites during the run (meshcheck/cluster/clock_faults.py).
 *
 * libfaketime replaces the C library's time functions; a Go program (etcd, nats-server) never calls
 * them: its runtime finds clock_gettime in the vDSO and calls it directly (Go's
 * src/runtime/vdso_linux.go). Both paths end in the vDSO, so the vDSO is where the clock is shifted.
 *
 * The wall clock (CLOCK_REALTIME and its coarse form, gettimeofday, time) reads
 *     fake = anchor_fake + (real - anchor_real) * rate
 * and jumps when the harness sets a new anchor. The monotonic clocks stay real, as they do when NTP
 * or an operator steps the wall clock (and as Jepsen's clock nemesis leaves them): a process's
 * sleeps and timers, which the kernel measures on the real monotonic clock whatever a process reads,
 * keep their real durations.
 *
 * The control file holds four 64-bit words (clock_faults.py `LAYOUT`), written under a sequence count
 * (a seqlock: odd while the harness writes, read again until it is even and unchanged). The rate is
 * in parts per billion. Integer arithmetic only (no floating point registers: Go calls the vDSO from
 * its own assembly), no C library call once redirected, little stack.
 *
 * The real time comes from the clock_gettime system call itself: the vDSO code it replaces is no
 * longer callable, and the system call is what the vDSO falls back to. It costs a few hundred
 * nanoseconds a reading where the vDSO took tens.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct control {
    volatile int64_t seq;
    volatile int64_t anchor_real, anchor_fake, rate_ppb;
};

static struct control *control;

static long raw_clock_gettime(long id, struct timespec *ts) {
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(SYS_clock_gettime), "D"(id), "S"(ts)
                     : "rcx", "r11", "memory");
    return ret;
}

static void shift(long id, struct timespec *ts) {
    if (id != CLOCK_REALTIME && id != CLOCK_REALTIME_COARSE) return;
    int64_t seq, anchor_real, anchor_fake, rate;
    do {
        seq = __atomic_load_n(&control->seq, __ATOMIC_ACQUIRE);
        anchor_real = control->anchor_real, anchor_fake = control->anchor_fake;
        rate = control->rate_ppb;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((seq & 1) || seq != __atomic_load_n(&control->seq, __ATOMIC_RELAXED));
    if (rate == 0) return; /* not yet set: the real clock */
    int64_t real = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
    int64_t fake = anchor_fake + (int64_t)((__int128)(real - anchor_real) * rate / 1000000000);
    ts->tv_sec = fake / 1000000000;
    ts->tv_nsec = fake % 1000000000;
    if (ts->tv_nsec < 0) ts->tv_sec -= 1, ts->tv_nsec += 1000000000;
}

static long hook_clock_gettime(long id, struct timespec *ts) {
    long ret = raw_clock_gettime(id, ts);
    if (ret == 0) shift(id, ts);
    return ret;
}

static long hook_gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    long ret = raw_clock_gettime(CLOCK_REALTIME, &ts);
    if (ret != 0) return ret;
    shift(CLOCK_REALTIME, &ts);
    if (tv) tv->tv_sec = ts.tv_sec, tv->tv_usec = ts.tv_nsec / 1000;
    if (tz) memset(tz, 0, 2 * sizeof(int));
    return 0;
}

static long hook_time(long *t) {
    struct timespec ts;
    raw_clock_gettime(CLOCK_REALTIME, &ts);
    shift(CLOCK_REALTIME, &ts);
    if (t) *t = ts.tv_sec;
    return ts.tv_sec;
}

/* movabs rax, target; jmp rax: 12 bytes over the entry point at `at`, which holds `size`. The vDSO
 * cannot be made writable (mprotect refuses its mapping); a write through /proc/self/mem, as a
 * debugger's, copies the page on write instead (proc(5), /proc/pid/mem). */
static int redirect(int mem, uint8_t *at, uint64_t size, void *target) {
    if (size < 12) return -1;
    uint8_t code[12] = {0x48, 0xb8};
    uint64_t address = (uint64_t)(uintptr_t)target;
    memcpy(code + 2, &address, 8);
    code[10] = 0xff, code[11] = 0xe0;
    if (pwrite(mem, code, sizeof code, (off_t)(uintptr_t)at) != (ssize_t)sizeof code) return -1;
    return memcmp(at, code, sizeof code) == 0 ? 0 : -1;
}

/* Every function symbol of the vDSO image at `base`, by its section headers (the kernel maps the
 * whole image, headers included), redirected when it is one of the time entry points. */
static int patch_vdso(int mem, uint8_t *base) {
    Elf64_Ehdr *eh = (Elf64_Ehdr *)base;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0) return -1;
    Elf64_Phdr *ph = (Elf64_Phdr *)(base + eh->e_phoff);
    uint64_t load = 0;
    int found_load = 0;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD) load = ph[i].p_vaddr, found_load = 1;
    if (!found_load) return -1;
    Elf64_Shdr *sh = (Elf64_Shdr *)(base + eh->e_shoff);
    int patched = 0;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM) continue;
        Elf64_Sym *syms = (Elf64_Sym *)(base + sh[i].sh_offset);
        const char *names = (const char *)(base + sh[sh[i].sh_link].sh_offset);
        uint64_t count = sh[i].sh_size / sizeof(Elf64_Sym);
        uint8_t *done[8];
        int ndone = 0;
        for (uint64_t k = 0; k < count; k++) {
            if (ELF64_ST_TYPE(syms[k].st_info) != STT_FUNC || syms[k].st_value == 0) continue;
            const char *name = names + syms[k].st_name;
            void *target = NULL;
            if (!strcmp(name, "__vdso_clock_gettime") || !strcmp(name, "clock_gettime"))
                target = (void *)hook_clock_gettime;
            else if (!strcmp(name, "__vdso_gettimeofday") || !strcmp(name, "gettimeofday"))
                target = (void *)hook_gettimeofday;
            else if (!strcmp(name, "__vdso_time") || !strcmp(name, "time"))
                target = (void *)hook_time;
            if (!target) continue;
            uint8_t *at = base + (syms[k].st_value - load);
            int seen = 0;
            for (int d = 0; d < ndone; d++) seen |= done[d] == at; /* an alias of one done */
            if (seen) continue;
            if (redirect(mem, at, syms[k].st_size, target) != 0) return -1;
            if (ndone < 8) done[ndone++] = at;
            patched++;
        }
    }
    return patched > 0 ? 0 : -1;
}

/* a process on a shifted clock that could not shift it would run on the real clock unseen: it
 * stops at once, saying why */
static void refuse(const char *why) {
    static const char said[] = "meshcheck clock shift: ";
    write(2, said, sizeof said - 1);
    write(2, why, strlen(why));
    write(2, "\n", 1);
    _exit(97);
}

__attribute__((constructor)) static void clock_shift_init(void) {
    const char *path = getenv("MESHCHECK_CLOCK_FILE");
    if (!path || !*path) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) refuse("cannot open the control file named by MESHCHECK_CLOCK_FILE");
    void *mapped = mmap(NULL, sizeof(struct control), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (mapped == MAP_FAILED) refuse("cannot map the control file");
    control = (struct control *)mapped;
    uint8_t *vdso = (uint8_t *)(uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (!vdso) refuse("this process has no vDSO");
    int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (mem < 0) refuse("cannot open /proc/self/mem to redirect the vDSO");
    int patched = patch_vdso(mem, vdso);
    close(mem);
    if (patched != 0) refuse("the vDSO's time functions could not be redirected");
}
