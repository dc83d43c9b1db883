program echo
  implicit none
  character :: c
  integer :: input, output, ios
  open(newunit=input, file='/proc/self/fd/0', access='stream', form='unformatted', action='read')
  open(newunit=output, file='/proc/self/fd/1', access='stream', form='unformatted', action='write')
  do
    read(input, iostat=ios) c
    if (ios /= 0) exit
    write(output) c
  end do
  close(output)
end program echo
