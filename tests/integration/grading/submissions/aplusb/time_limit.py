import sys

a, b = map(int, sys.stdin.read().split())
while True:
    a += 1
