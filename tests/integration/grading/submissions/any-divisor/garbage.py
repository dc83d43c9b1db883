import sys

sys.stdout.buffer.write(b"\x00\xff" * 1000 + b"\n")
