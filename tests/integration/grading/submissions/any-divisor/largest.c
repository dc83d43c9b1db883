#include <stdio.h>

/* The largest proper divisor: n divided by its smallest prime factor. */
int main(void) {
    long long n;
    if (scanf("%lld", &n) != 1) return 1;
    long long d = 2;
    while (n % d) d++;
    printf("%lld\n", n / d);
    return 0;
}
