input <- file("stdin", "rb")
repeat {
  chunk <- readBin(input, "raw", 65536)
  if (length(chunk) == 0) break
  cat(rawToChar(chunk))
}
