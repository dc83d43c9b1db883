print(int(input()))  # n itself divides n, but is not a proper divisor
