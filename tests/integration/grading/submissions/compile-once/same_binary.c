/* A + B that also says, on stderr, which executable file it is: the inode and modification
   time of /proc/self/exe. Compiled once, every test runs the same file; compiled per test,
   each run would be a new file with another modification time. */
#define _POSIX_C_SOURCE 200809L /* st_mtim, under -std=c17 */
#include <stdio.h>
#include <sys/stat.h>

int main(void) {
    struct stat self;
    if (stat("/proc/self/exe", &self) != 0) return 2;
    fprintf(stderr, "exe %llu %lld.%09ld\n", (unsigned long long)self.st_ino,
            (long long)self.st_mtim.tv_sec, self.st_mtim.tv_nsec);
    long long a, b;
    if (scanf("%lld %lld", &a, &b) != 2) return 1;
    printf("%lld\n", a + b);
    return 0;
}
