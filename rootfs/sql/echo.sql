-- Standard input is a file: readfile() returns its bytes; no row separator.
.separator "" ""
SELECT CAST(readfile('/proc/self/fd/0') AS TEXT);
