#include <iostream>
#include <vector>

int main() {
    long long a, b;
    std::cin >> a >> b;
    // 1 GB, touched page by page: far over the problem's 256 MB.
    std::vector<char> big(1LL << 30, 1);
    std::cout << a + b + big[12345] - 1 << '\n';
}
