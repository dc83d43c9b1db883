program Broken;
begin
  writeln(undefined_name);
end.
