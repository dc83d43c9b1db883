#include <iostream>

int main() {
    std::ios::sync_with_stdio(false);
    if (std::cin.peek() != EOF) std::cout << std::cin.rdbuf();
}
