#include <iostream>
#include <utility>

using u64 = unsigned long long;
const u64 M = 1000000007ULL;

// Fast doubling: F(2k) = F(k)(2F(k+1) - F(k)), F(2k+1) = F(k)^2 + F(k+1)^2.
std::pair<u64, u64> fib(u64 n) {
    if (n == 0) return {0, 1};
    auto [a, b] = fib(n >> 1);
    u64 c = a * ((2 * b % M + M - a) % M) % M;
    u64 d = (a * a + b * b) % M;
    return n & 1 ? std::make_pair(d, (c + d) % M) : std::make_pair(c, d);
}

int main() {
    u64 n;
    std::cin >> n;
    std::cout << fib(n).first << '\n';
}
