#include <math.h>
#include <stdio.h>

int main(void) {
    double r;
    if (scanf("%lf", &r) != 1) return 1;
    const double pi = acos(-1.0);
    printf("%.9f\n", pi * r * r);
    return 0;
}
