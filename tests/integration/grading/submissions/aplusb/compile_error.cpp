#include <iostream>

int main() {
    std::cout << undeclared_sum << '\n';
}
