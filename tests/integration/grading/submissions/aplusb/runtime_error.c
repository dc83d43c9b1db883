#include <stdio.h>

int main(void) {
    long long a, b;
    if (scanf("%lld %lld", &a, &b) != 2) return 1;
    int *nowhere = NULL;
    printf("%d\n", *nowhere);  /* SIGSEGV */
    return 0;
}
