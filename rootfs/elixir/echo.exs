case IO.binread(:stdio, :eof) do
  :eof -> :ok
  data -> IO.binwrite(:stdio, data)
end
