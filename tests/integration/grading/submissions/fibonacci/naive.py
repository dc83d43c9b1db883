import sys

sys.setrecursionlimit(10000)


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


print(fib(int(input())) % 1_000_000_007)
