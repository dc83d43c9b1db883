fconfigure stdin -translation binary
fconfigure stdout -translation binary
fcopy stdin stdout
