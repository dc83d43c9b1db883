# Bytes in, bytes out: standard_io in latin1 mode passes every byte through unchanged.
:ok = :io.setopts(:standard_io, encoding: :latin1)

case IO.binread(:stdio, :eof) do
  :eof -> :ok
  data when is_binary(data) -> IO.binwrite(:stdio, data)
end
