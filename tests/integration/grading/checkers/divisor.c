/* The "any divisor" checker in C: `checker input expected actual`; exit 0 accepted, 1 wrong. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 4) return 3;
    FILE *in = fopen(argv[1], "r"), *out = fopen(argv[3], "rb");
    long long n, d;
    if (!in || !out || fscanf(in, "%lld", &n) != 1) return 3;
    char buf[65] = {0};
    size_t len = fread(buf, 1, sizeof buf - 1, out);
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)buf[i]) && !isspace((unsigned char)buf[i])) {
            puts("the answer is not a positive integer");
            return 1;
        }
    if (sscanf(buf, "%lld", &d) != 1 || d <= 1 || d >= n || n % d) {
        puts("not a proper divisor");
        return 1;
    }
    printf("%lld divides %lld\n", d, n);
    return 0;
}
