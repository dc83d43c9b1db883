! Copies stdin to stdout byte for byte. Fortran's own I/O is record-based (it would add or drop
! the last newline), so this calls the C library's read(2) and write(2) on descriptors 0 and 1.
program echo
  use, intrinsic :: iso_c_binding, only: c_char, c_int, c_long, c_size_t
  implicit none
  interface
    function c_read(fd, buf, count) bind(c, name="read") result(got)
      import :: c_char, c_int, c_long, c_size_t
      integer(c_int), value :: fd
      character(kind=c_char) :: buf(*)
      integer(c_size_t), value :: count
      integer(c_long) :: got
    end function c_read
    function c_write(fd, buf, count) bind(c, name="write") result(put)
      import :: c_char, c_int, c_long, c_size_t
      integer(c_int), value :: fd
      character(kind=c_char) :: buf(*)
      integer(c_size_t), value :: count
      integer(c_long) :: put
    end function c_write
  end interface
  character(kind=c_char) :: buf(65536)
  integer(c_long) :: n, put
  do
    n = c_read(0_c_int, buf, int(size(buf), c_size_t))
    if (n <= 0) exit
    put = c_write(1_c_int, buf, int(n, c_size_t))
    if (put /= n) stop 1
  end do
end program echo
