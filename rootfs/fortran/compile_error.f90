program broken
  implicit none
  print *, undefined_name
end program broken
